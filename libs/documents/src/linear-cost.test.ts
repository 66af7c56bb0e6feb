import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { chunkDocument } from './chunk.ts';
import type { DocumentInput } from './document.ts';
import { parseDocument } from './parse.ts';

// Heap held by a parsed and chunked document, at 1x and 10x the input: it must grow about
// linearly. Before the parsers were fixed (issue #20) a CSV's heap grew with the square of its
// rows (3,000 rows 182 MB, 6,000 rows 690 MB), so 10x the input held ~100x the heap; the bound
// here is 40x, loose enough for GC noise and small enough to catch any quadratic path.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const GROWTH_BOUND = 40;
/** Below this, a 1x measurement is noise: the bound is taken against this floor instead. */
const FLOOR_BYTES = 2 * 1024 * 1024;

async function retainedBytes(input: DocumentInput): Promise<{ bytes: number; chunks: number }> {
  gc();
  const before = process.memoryUsage().heapUsed;
  const parsed = await parseDocument(input);
  const chunks = chunkDocument(parsed);
  gc();
  const after = process.memoryUsage().heapUsed;
  // Keep both alive until measured.
  expect(parsed.sections.length).toBeGreaterThan(0);
  return { bytes: Math.max(0, after - before), chunks: chunks.length };
}

const csv = (rows: number): DocumentInput => ({
  mediaType: 'text/csv',
  content: ['id,name,value', ...Array.from({ length: rows }, (_, i) => `${i},name ${i},${i * 7}`)].join('\n'),
});
const tsv = (rows: number): DocumentInput => ({
  mediaType: 'text/tab-separated-values',
  content: ['id\tname', ...Array.from({ length: rows }, (_, i) => `${i}\tname ${i}`)].join('\n'),
});
const json = (records: number): DocumentInput => ({
  mediaType: 'application/json',
  content: JSON.stringify(
    Array.from({ length: records }, (_, i) => ({ id: i, name: `n${i}`, tags: ['a', 'b'] })),
  ),
});
const jsonl = (lines: number): DocumentInput => ({
  mediaType: 'application/x-ndjson',
  content: Array.from({ length: lines }, (_, i) => JSON.stringify({ id: i, v: `x${i}` })).join('\n'),
});
const markdown = (headings: number): DocumentInput => ({
  mediaType: 'text/markdown',
  content: Array.from({ length: headings }, (_, i) =>
    i % 3 === 0 ? `# Head ${i}` : `## Sub ${i}\n\nA line of text under it.`,
  ).join('\n'),
});
const html = (headings: number): DocumentInput => ({
  mediaType: 'text/html',
  content: `<html><body>${Array.from({ length: headings }, (_, i) => `<h2>Part ${i}</h2><p>Lamp ${i}.</p>`).join('')}</body></html>`,
});
const plain = (lines: number): DocumentInput => ({
  mediaType: 'text/plain',
  content: Array.from({ length: lines }, (_, i) => `Line ${i} of the keeper's log.`).join('\n'),
});

describe('parse + chunk cost grows linearly with the input', () => {
  it.each([
    ['CSV rows', csv, 1_500],
    ['TSV rows', tsv, 1_500],
    ['JSON records', json, 3_000],
    ['JSON Lines', jsonl, 10_000],
    ['Markdown headings', markdown, 20_000],
    ['HTML headings', html, 5_000],
    ['plain text lines', plain, 20_000],
  ] as const)('%s', async (_name, make, size) => {
    const small = await retainedBytes(make(size));
    const large = await retainedBytes(make(size * 10));
    const ratio = large.bytes / Math.max(small.bytes, FLOOR_BYTES);
    console.log(
      `${_name}: 1x ${(small.bytes / 1e6).toFixed(1)} MB ${small.chunks} chunks, ` +
        `10x ${(large.bytes / 1e6).toFixed(1)} MB ${large.chunks} chunks`,
    );
    expect(ratio).toBeLessThan(GROWTH_BOUND);
    // Work is bounded by the text too: 10x the input is about 10x the chunks, never more.
    expect(large.chunks).toBeLessThanOrEqual(small.chunks * 12 + 16);
  });
});
