import { connect } from '@lancedb/lancedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChunkInput, ChunkRecord, MaintenanceStats, StoreWriter as Store } from './index.ts';
import { testDocument } from './test-documents.ts';
import { rejection, tempStores } from './test-stores.ts';

/**
 * What a person listing a document's chunks must see: every chunk of the current version once, in
 * order, whichever of the two chunk tables holds it (see DeltaMove in maintenance.ts), and never a
 * chunk of a version that was replaced.
 */

const DIM = 8;
const stores = tempStores('chunk-list');
beforeEach(stores.setUp);
afterEach(stores.tearDown);
const { open } = stores;

/** `count` chunks of text `${word} ${i}` under a heading, 10 characters apart. */
function chunks(count: number, word: string): ChunkInput[] {
  return Array.from({ length: count }, (_, i) => {
    const vector = new Float32Array(DIM);
    vector[i % DIM] = 1;
    return {
      text: `${word} ${i}`,
      headingPath: ['Guide', `Part ${Math.floor(i / 2)}`],
      start: i * 10,
      end: i * 10 + 9,
      vector,
    };
  });
}

/** Every chunk of a document, page by page, as a client walking `nextCursor` sees them. */
async function allChunks(store: Store, documentId: string, limit: number): Promise<ChunkRecord[]> {
  const seen: ChunkRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listChunks('acme', 'docs', documentId, { limit, ...(cursor ? { cursor } : {}) });
    if (!page) throw new Error(`${documentId} is not stored`);
    expect(page.chunks.length).toBeLessThanOrEqual(limit);
    seen.push(...page.chunks);
    cursor = page.nextCursor;
  } while (cursor);
  return seen;
}

/** A document's live rows in one chunk table (tombstones excluded). */
async function rowsIn(name: 'chunks' | 'chunks_delta', documentId: string): Promise<number> {
  const db = await connect(stores.dir);
  try {
    if (!(await db.tableNames()).includes(name)) return 0;
    const table = await db.openTable(name);
    try {
      return await table.countRows(`tenant = 'acme' AND document_id = '${documentId}'`);
    } finally {
      table.close();
    }
  } finally {
    db.close();
  }
}

describe('listChunks', () => {
  it("lists a document's chunks in order, a page at a time, with heading paths and offsets", async () => {
    const store = await open();
    await store.replaceDocument(testDocument('guide'), chunks(7, 'lantern'));
    await store.replaceDocument(testDocument('other'), chunks(2, 'buoy'));

    const first = await store.listChunks('acme', 'docs', 'guide', { limit: 3 });
    expect(first?.document).toMatchObject({ documentId: 'guide', version: 1, chunks: 7 });
    expect(first?.chunks).toEqual([
      {
        chunkId: 'guide:1:0',
        index: 0,
        text: 'lantern 0',
        headingPath: ['Guide', 'Part 0'],
        start: 0,
        end: 9,
      },
      {
        chunkId: 'guide:1:1',
        index: 1,
        text: 'lantern 1',
        headingPath: ['Guide', 'Part 0'],
        start: 10,
        end: 19,
      },
      {
        chunkId: 'guide:1:2',
        index: 2,
        text: 'lantern 2',
        headingPath: ['Guide', 'Part 1'],
        start: 20,
        end: 29,
      },
    ]);
    expect(first?.nextCursor).toBeDefined();
    const listed = await allChunks(store, 'guide', 3);
    expect(listed.map((chunk) => chunk.text)).toEqual(Array.from({ length: 7 }, (_, i) => `lantern ${i}`));
    // A page that ends exactly at the last chunk says no more follow.
    const whole = await store.listChunks('acme', 'docs', 'guide', { limit: 7 });
    expect(whole?.chunks).toHaveLength(7);
    expect(whole?.nextCursor).toBeUndefined();

    // Another tenant, collection or id sees nothing.
    expect(await store.listChunks('globex', 'docs', 'guide', { limit: 3 })).toBeUndefined();
    expect(await store.listChunks('acme', 'notes', 'guide', { limit: 3 })).toBeUndefined();
    expect(await store.listChunks('acme', 'docs', 'missing', { limit: 3 })).toBeUndefined();
    expect((await rejection(store.listChunks('acme', 'docs', 'guide', { limit: 0 }))).code).toBe(
      'invalid_input',
    );
    expect(
      (await rejection(store.listChunks('acme', 'docs', 'guide', { limit: 3, cursor: 'not-a-cursor' }))).code,
    ).toBe('invalid_cursor');
  });

  it('finds each chunk once while a move has it in both tables, and after it', async () => {
    let moved: () => void = () => undefined;
    const movedOnce = new Promise<void>((resolve) => (moved = resolve));
    const writer = await open({
      maxDeltaRows: 6,
      onMaintenance: (stats: MaintenanceStats) => {
        if (stats.operation === 'move') moved();
      },
    });
    const reader = await open();
    await writer.replaceDocument(testDocument('guide'), chunks(5, 'lantern'));
    await writer.replaceDocument(testDocument('other'), chunks(3, 'buoy'));
    // Past the bound: maintenance copies the delta into the main table, and deletes the rows from
    // the delta only after the main table's fold and a grace period.
    await movedOnce;
    expect(await rowsIn('chunks', 'guide')).toBe(5);
    expect(await rowsIn('chunks_delta', 'guide')).toBe(5);
    const during = await allChunks(reader, 'guide', 2);
    expect(during.map((chunk) => chunk.chunkId)).toEqual([0, 1, 2, 3, 4].map((i) => `guide:1:${i}`));

    await writer.maintain();
    expect(await rowsIn('chunks_delta', 'guide')).toBe(0);
    const after = await allChunks(reader, 'guide', 2);
    expect(after.map((chunk) => chunk.text)).toEqual([0, 1, 2, 3, 4].map((i) => `lantern ${i}`));
  });

  it('lists only the current version of a document replaced after its chunks were moved', async () => {
    const writer = await open({ maxDeltaRows: 1_000 });
    const reader = await open();
    await writer.replaceDocument(testDocument('guide'), chunks(5, 'lantern'));
    await writer.maintain();
    expect(await rowsIn('chunks', 'guide')).toBe(5);
    const stale = await reader.listChunks('acme', 'docs', 'guide', { limit: 2 });

    // Shorter, with new text: the new version is in the delta, the old one left the main table.
    await writer.replaceDocument(testDocument('guide'), chunks(3, 'beacon'));
    const listed = await allChunks(reader, 'guide', 2);
    expect(listed.map((chunk) => [chunk.chunkId, chunk.text])).toEqual([
      ['guide:2:0', 'beacon 0'],
      ['guide:2:1', 'beacon 1'],
      ['guide:2:2', 'beacon 2'],
    ]);
    // A cursor into the replaced version is refused with a reason, not answered with a mix.
    const refused = await rejection(
      reader.listChunks('acme', 'docs', 'guide', { limit: 2, cursor: stale?.nextCursor ?? '' }),
    );
    expect(refused.code).toBe('invalid_cursor');
    expect(refused.message).toMatch(/replaced \(it is now version 2\).*first page/);

    await writer.maintain();
    expect((await allChunks(reader, 'guide', 10)).map((chunk) => chunk.chunkId)).toEqual(
      [0, 1, 2].map((i) => `guide:2:${i}`),
    );
  });

  it('never shows a mix of versions while the document is being replaced', async () => {
    const writer = await open({ maxDeltaRows: 8 });
    const reader = await open();
    await writer.replaceDocument(testDocument('guide'), chunks(4, 'v1'));
    let writing = true;
    const problems: string[] = [];
    let reads = 0;
    const readLoop = async (): Promise<void> => {
      // Until the writes are done, and at least a few reads whatever the machine's speed.
      while (writing || reads < 10) {
        const page = await reader.listChunks('acme', 'docs', 'guide', { limit: 100 });
        reads++;
        const version = page?.document.version ?? 0;
        const texts = page?.chunks.map((chunk) => chunk.text) ?? [];
        const expected = Array.from({ length: page?.document.chunks ?? 0 }, (_, i) => `v${version} ${i}`);
        if (JSON.stringify(texts) !== JSON.stringify(expected)) {
          problems.push(`version ${version}: ${texts.join(', ')}`);
        }
      }
    };
    const readers = [readLoop(), readLoop()];
    // Versions alternate between longer and shorter, while moves take rows into the main table.
    for (let version = 2; version <= 14; version++) {
      await writer.replaceDocument(testDocument('guide'), chunks(version % 2 === 0 ? 6 : 3, `v${version}`));
    }
    writing = false;
    await Promise.all(readers);
    expect(problems).toEqual([]);
    expect((await allChunks(reader, 'guide', 100)).map((chunk) => chunk.text)).toEqual([
      'v14 0',
      'v14 1',
      'v14 2',
      'v14 3',
      'v14 4',
      'v14 5',
    ]);
  });
});
