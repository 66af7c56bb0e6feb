import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, parseReference } from './dataset.ts';
import { writeReport } from './report.ts';
import { runEval } from './run.ts';

const README = `# Tiny collection

## Reference nDCG@10
| system | nDCG@10 | source |
|---|---|---|
| BM25 (made up) | 0.500 | this test |
| DPR | 0.300 | same |

## Sanity check (throwaway BM25)
| settings | nDCG@10 |
|---|---|
| k1=0.9, b=0.4 | **0.480** |
`;

const DOCS = [
  { id: '1', title: 'Lighthouses', text: 'The keeper trims the wick of the lamp every evening.' },
  { id: '2', title: 'Bees', text: 'Beekeepers smoke the hive before lifting the frames.' },
  { id: '3', title: 'Tides', text: 'Spring tides follow the new and the full moon.' },
  { id: '4', title: '', text: '' },
  { id: '5', title: 'Bread', text: 'A sourdough starter is fed with rye flour and water.' },
];

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hopper-eval-test-'));
  await writeFile(join(dir, 'corpus.jsonl'), DOCS.map((d) => JSON.stringify(d)).join('\n'));
  await writeFile(
    join(dir, 'queries.jsonl'),
    [
      { id: 'q1', text: 'who trims the lamp wick' },
      { id: 'q2', text: 'feeding a sourdough starter' },
      { id: 'q3', text: 'unjudged query' },
    ]
      .map((q) => JSON.stringify(q))
      .join('\n'),
  );
  await writeFile(join(dir, 'qrels.tsv'), 'q1\t1\t2\nq2\t5\t1\nq2\t3\t1\n');
  await writeFile(join(dir, 'README.md'), README);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseReference', () => {
  it('takes the first BM25 row of the reference table and the sanity-check rows', () => {
    expect(parseReference(README)).toEqual({
      published: { ndcg10: 0.5, system: 'BM25 (made up)', source: 'this test' },
      baselines: [{ setting: 'k1=0.9, b=0.4', ndcg10: 0.48 }],
    });
    expect(parseReference('# x\n## Reference scores\nNone found.\n').published).toBeUndefined();
  });
});

describe('runEval (smoke, through a real stack)', () => {
  it('ingests a tiny collection, scores every mode and writes both reports', async () => {
    const dataset = await loadDataset(dir, 'tiny');
    const result = await runEval(dataset, { batchSize: 2, parallel: 2 });
    expect(result.skipped).toEqual([{ id: '4', reason: 'empty in the source (no title, no text)' }]);
    expect(result.ingested).toBe(4);
    expect(result.model).toMatch(/^hopper-hashing/);
    expect(result.modes.map((m) => [m.mode, m.queries])).toEqual([
      ['text', 2],
      ['vector', 2],
      ['hybrid', 2],
    ]);
    // q1's only relevant document shares its key words: every mode puts it first.
    for (const mode of result.modes) {
      expect(mode.ndcg10, mode.mode).toBeGreaterThan(0.5);
      expect(mode.recall10, mode.mode).toBeGreaterThanOrEqual(0.75);
    }

    const out = join(dir, 'reports');
    const [md, json] = await writeReport(out, result, {
      command: 'test',
      reference: dataset.reference,
      notes: ['a note'],
    });
    const report = await readFile(md!, 'utf8');
    expect(report).toContain('| hybrid |');
    expect(report).toContain('Published BM25 nDCG@10 (from the dataset README): **0.500**');
    expect(report).toContain('k1=0.9, b=0.4: 0.480');
    const parsed = JSON.parse(await readFile(json!, 'utf8')) as { hybridVsPublishedBm25: number };
    expect(typeof parsed.hybridVsPublishedBm25).toBe('number');
  });
});
