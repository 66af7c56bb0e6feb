import type { SearchHit } from './types.ts';

/**
 * Weight of the full-text (BM25) signal in hybrid ranking; the vector signal gets the rest.
 * Chosen on Cranfield with the built-in embedder (best of 0.60-0.90; SciFact was held out and
 * agrees): that embedder is lexical too, so it mostly confirms BM25 and helps as a tie-breaker
 * and for word variants BM25's stemmer misses. Plain reciprocal rank fusion, which weighs both
 * lists equally, scored below BM25 alone on both collections for exactly that reason.
 */
export const DEFAULT_TEXT_WEIGHT = 0.75;

/**
 * Fuses two ranked candidate lists by a convex combination of min-max normalized scores (the
 * "TM2C2" fusion of Bruch et al., 2023, which beats reciprocal rank fusion when one signal is
 * stronger): each signal's scores are scaled to [0, 1] over its own candidates, a chunk missing
 * from a list gets 0 for that signal, and the fused score is
 * `textWeight * text + (1 - textWeight) * vector`. Ties keep the text list's order.
 *
 * Hits keep their per-signal scores and the list of signals that found them.
 */
export function fuseHits(
  text: readonly SearchHit[],
  vector: readonly SearchHit[],
  topK: number,
  textWeight = DEFAULT_TEXT_WEIGHT,
): SearchHit[] {
  const fused = new Map<string, SearchHit>();
  const add = (hits: readonly SearchHit[], weight: number): void => {
    const normalize = minMax(hits.map((hit) => hit.score));
    for (const hit of hits) {
      const contribution = weight * normalize(hit.score);
      const existing = fused.get(hit.chunkId);
      if (existing === undefined) {
        fused.set(hit.chunkId, {
          ...hit,
          score: contribution,
          matched: [...hit.matched],
          scores: { ...hit.scores },
        });
      } else {
        existing.score += contribution;
        existing.matched.push(...hit.matched);
        Object.assign(existing.scores, hit.scores);
      }
    }
  };
  add(text, textWeight);
  add(vector, 1 - textWeight);
  // Map order is insertion order (text first), and sort is stable: ties keep it.
  return [...fused.values()].sort((a, b) => b.score - a.score).slice(0, topK);
}

/** Scales scores to [0, 1] over a candidate list; a list whose scores are all equal maps to 1. */
function minMax(scores: readonly number[]): (score: number) => number {
  let low = Infinity;
  let high = -Infinity;
  for (const score of scores) {
    low = Math.min(low, score);
    high = Math.max(high, score);
  }
  const range = high - low;
  return range > 0 ? (score) => (score - low) / range : () => 1;
}

/**
 * Joins the candidates read from the chunk tables (the main table and the delta) into one list per
 * signal, best first, at most `depth` each. A row both tables held for a moment (a move between
 * them) counts once; where two versions of a document were read (a replacement seen between its
 * commits to the two tables), only the newer version's chunks stay, in both lists.
 */
export function mergeTableHits(
  text: readonly SearchHit[],
  vector: readonly SearchHit[],
  depth: number,
): [SearchHit[], SearchHit[]] {
  const documentOf = (hit: SearchHit): string => `${hit.collection}\u001f${hit.documentId}`;
  const newest = new Map<string, number>();
  for (const hit of [...text, ...vector]) {
    const key = documentOf(hit);
    newest.set(key, Math.max(newest.get(key) ?? 0, hit.version));
  }
  const pick = (hits: readonly SearchHit[]): SearchHit[] => {
    const seen = new Set<string>();
    const kept: SearchHit[] = [];
    // Stable: a single table's own order (best first) is kept as it came.
    for (const hit of [...hits].sort((a, b) => b.score - a.score)) {
      const key = `${hit.collection}\u001f${hit.chunkId}`;
      if (hit.version !== newest.get(documentOf(hit)) || seen.has(key)) continue;
      seen.add(key);
      kept.push(hit);
      if (kept.length === depth) break;
    }
    return kept;
  };
  return [pick(text), pick(vector)];
}
