import { afterEach, describe, expect, it } from 'vitest';
import { DocumentError } from './errors.ts';
import { ParserPool, parseAndChunk } from './parse-and-chunk.ts';

const pools: ParserPool[] = [];
/** A pool of one thread with these limits, closed after the test. */
function sandbox(maxHeapMb: number, timeoutMs: number): ParserPool {
  const pool = new ParserPool({ maxHeapMb, timeoutMs, threads: 1 });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

const csv = (rows: number): string =>
  ['id,name', ...Array.from({ length: rows }, (_, i) => `${i + 1},lamp ${i + 1}`)].join('\n');

async function failure(promise: Promise<unknown>): Promise<DocumentError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(DocumentError);
  return error as DocumentError;
}

describe('parseAndChunk', () => {
  it('packs tiny records into chunks named by their range', async () => {
    const { chunks } = await parseAndChunk({ content: csv(2_000), mediaType: 'text/csv' });
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.length).toBeLessThan(200);
    expect(chunks[0]?.headingPath).toEqual([expect.stringMatching(/^rows 1-\d+$/)]);
    // Every row is in a chunk, in order.
    const text = chunks.map((chunk) => chunk.text).join('\n');
    expect(text).toContain('name: lamp 1\n');
    expect(text).toContain('name: lamp 2000');
  });

  it('gives the same chunks in the sandbox as on this thread', async () => {
    const input = { content: csv(500), mediaType: 'text/csv' };
    const here = await parseAndChunk(input);
    const sandboxed = await parseAndChunk(input, { sandbox: sandbox(128, 30_000) });
    expect(sandboxed).toEqual(here);
  });

  it('parses small plain text on this thread, and everything else in the sandbox', async () => {
    // A closed pool runs nothing: what still parses did not go through it.
    const pool = sandbox(64, 30_000);
    await pool.close();
    const note = { content: 'A short note about lamps.\n\nIt has two paragraphs.' };
    expect(await parseAndChunk(note, { sandbox: pool })).toEqual(await parseAndChunk(note));
    await expect(
      parseAndChunk({ content: csv(10), mediaType: 'text/csv' }, { sandbox: pool }),
    ).rejects.toThrow(/parser pool is closed/);
    await expect(
      parseAndChunk({ content: '# A heading\n\ntext', mediaType: 'text/markdown' }, { sandbox: pool }),
    ).rejects.toThrow(/parser pool is closed/);
    // Plain text past 32,768 characters goes to the sandbox too.
    await expect(parseAndChunk({ content: 'lamp '.repeat(8_000) }, { sandbox: pool })).rejects.toThrow(
      /parser pool is closed/,
    );
  });

  it('refuses JSON nested thousands deep with a reason, not a stack overflow', async () => {
    const error = await failure(
      parseAndChunk(
        { content: `${'['.repeat(10_000)}${']'.repeat(10_000)}`, mediaType: 'application/json' },
        { sandbox: sandbox(128, 30_000) },
      ),
    );
    expect(error.code).toBe('too_complex');
    expect(error.message).toMatch(/more than 256 levels deep/);
    expect(error.message).not.toMatch(/call stack/i);
  });

  it('stops a document that needs more heap than the sandbox gives, and this thread goes on', async () => {
    // Each row's `field: value` lines and section cost far more heap than its bytes.
    const error = await failure(
      parseAndChunk({ content: csv(400_000), mediaType: 'text/csv' }, { sandbox: sandbox(32, 60_000) }),
    );
    expect(error.code).toBe('too_large');
    expect(error.message).toMatch(/needed more than 32 MB of memory to parse/);
    // Still here, and the sandbox works for the next document.
    const { chunks } = await parseAndChunk(
      { content: csv(10), mediaType: 'text/csv' },
      { sandbox: sandbox(64, 30_000) },
    );
    expect(chunks).toHaveLength(1);
  });

  it('keeps its threads for the next documents, and replaces one a document took down', async () => {
    const pool = sandbox(32, 60_000);
    const small = { content: csv(10), mediaType: 'text/csv' };
    // Many documents, one thread: they take turns.
    const many = await Promise.all(Array.from({ length: 20 }, () => parseAndChunk(small, { sandbox: pool })));
    expect(many.every((document) => document.chunks.length === 1)).toBe(true);
    const outcomes = await Promise.allSettled([
      parseAndChunk({ content: csv(400_000), mediaType: 'text/csv' }, { sandbox: pool }),
      parseAndChunk(small, { sandbox: pool }),
    ]);
    expect(outcomes[0]?.status).toBe('rejected');
    expect(outcomes[1]).toMatchObject({ status: 'fulfilled' });
  });

  it('stops a document that takes longer than its time budget', async () => {
    const error = await failure(
      parseAndChunk({ content: csv(200_000), mediaType: 'text/csv' }, { sandbox: sandbox(512, 50) }),
    );
    expect(error.code).toBe('too_large');
    expect(error.message).toMatch(/took longer than [\d.]+ s/);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    const pending = parseAndChunk(
      { content: csv(200_000), mediaType: 'text/csv' },
      { sandbox: sandbox(512, 60_000), signal: controller.signal },
    );
    controller.abort('stop');
    await expect(pending).rejects.toBe('stop');
  });
});
