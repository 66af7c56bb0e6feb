import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Judgements } from './metrics.ts';

/** An IR test collection in the shared layout: corpus.jsonl, queries.jsonl, qrels.tsv, README.md. */
export interface Dataset {
  name: string;
  documents: { id: string; title: string; text: string }[];
  queries: { id: string; text: string }[];
  /** query id → judgements. */
  qrels: Map<string, Judgements>;
  reference: Reference;
}

/** What the dataset's README says BM25 scores, for the report to stand beside. */
export interface Reference {
  /** The published BM25 nDCG@10 and where it comes from, when the README gives one. */
  published?: { ndcg10: number; system: string; source: string };
  /** Local BM25 sanity-check figures the README reports (setting → nDCG@10). */
  baselines: { setting: string; ndcg10: number }[];
}

export async function loadDataset(directory: string, name: string): Promise<Dataset> {
  const read = (file: string): Promise<string> => readFile(join(directory, file), 'utf8');
  const lines = (text: string): string[] => text.split('\n').filter((line) => line.trim() !== '');
  const documents = lines(await read('corpus.jsonl')).map((line) => {
    const row = JSON.parse(line) as { id: unknown; title?: unknown; text?: unknown };
    return { id: String(row.id), title: stringOr(row.title), text: stringOr(row.text) };
  });
  const queries = lines(await read('queries.jsonl')).map((line) => {
    const row = JSON.parse(line) as { id: unknown; text?: unknown };
    return { id: String(row.id), text: stringOr(row.text) };
  });
  const qrels = new Map<string, Map<string, number>>();
  for (const line of lines(await read('qrels.tsv'))) {
    const [query, document, grade] = line.split('\t');
    if (query === undefined || document === undefined || grade === undefined) continue;
    const judged = qrels.get(query) ?? new Map<string, number>();
    judged.set(document, Number(grade));
    qrels.set(query, judged);
  }
  const readme = await read('README.md').catch(() => '');
  return { name, documents, queries, qrels, reference: parseReference(readme) };
}

function stringOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Reads reference figures from a dataset README: the first table row naming BM25 with an nDCG
 * value in its second cell (the published figure, its third cell the source), and the rows of a
 * "Sanity check" section's table (local baselines). Bold markers are ignored.
 */
export function parseReference(readme: string): Reference {
  const reference: Reference = { baselines: [] };
  let section = '';
  for (const line of readme.split('\n')) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      section = heading[1]?.toLowerCase() ?? '';
      continue;
    }
    if (!line.trim().startsWith('|')) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.replace(/\*\*/g, '').trim());
    const value = Number(cells[1]);
    if (cells.length < 2 || !Number.isFinite(value) || value <= 0 || value > 1) continue;
    const label = cells[0] ?? '';
    if (section.includes('sanity')) reference.baselines.push({ setting: label, ndcg10: value });
    else if (reference.published === undefined && /^bm25\b/i.test(label) && section.includes('reference')) {
      reference.published = { ndcg10: value, system: label, source: cells[2] ?? '' };
    }
  }
  return reference;
}
