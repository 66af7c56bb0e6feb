/** Graded relevance judgements of one query: document id → grade (> 0 is relevant). */
export type Judgements = ReadonlyMap<string, number>;

/**
 * nDCG@k with gain `2^grade - 1` and discount `log2(rank + 1)`, the ideal ranking taken from all
 * judged documents of the query (as trec_eval and BEIR compute it). 0 when nothing is relevant.
 */
export function ndcgAt(k: number, ranked: readonly string[], judged: Judgements): number {
  const gain = (grade: number): number => 2 ** grade - 1;
  let dcg = 0;
  ranked.slice(0, k).forEach((id, i) => {
    dcg += gain(judged.get(id) ?? 0) / Math.log2(i + 2);
  });
  const ideal = [...judged.values()]
    .filter((grade) => grade > 0)
    .sort((a, b) => b - a)
    .slice(0, k);
  const idcg = ideal.reduce((sum, grade, i) => sum + gain(grade) / Math.log2(i + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

/** Share of the query's relevant documents found in the first `k`. 0 when nothing is relevant. */
export function recallAt(k: number, ranked: readonly string[], judged: Judgements): number {
  const relevant = [...judged].filter(([, grade]) => grade > 0).map(([id]) => id);
  if (relevant.length === 0) return 0;
  const top = new Set(ranked.slice(0, k));
  return relevant.filter((id) => top.has(id)).length / relevant.length;
}

/**
 * Chunk hits to a document ranking: each document at the rank of its best chunk (MaxP), since
 * judgements are per document and a document may be cut into several chunks.
 */
export function documentRanking(chunkDocumentIds: readonly string[]): string[] {
  return [...new Set(chunkDocumentIds)];
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}
