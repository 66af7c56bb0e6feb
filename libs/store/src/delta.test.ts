import { connect } from '@lancedb/lancedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChunkInput, MaintenanceStats, SearchHit, StoreWriter as Store } from './index.ts';
import { TEST_MODEL, testDocument } from './test-documents.ts';
import { tempStores } from './test-stores.ts';

/**
 * New chunks are written to the delta table and moved into the main table past `maxDeltaRows`
 * (see DeltaMove in maintenance.ts). What a user must never notice: a chunk missing or counted
 * twice while a move runs, or an old version coming back.
 */

const DIM = 8;
const stores = tempStores('delta');
beforeEach(stores.setUp);
afterEach(stores.tearDown);
const { open } = stores;

function chunks(document: number, count = 3, word = 'lighthouse'): ChunkInput[] {
  return Array.from({ length: count }, (_, i) => {
    const vector = new Float32Array(DIM);
    vector[(document + i) % DIM] = 1;
    const second = (document * 3 + i + 1) % DIM;
    vector[second] = (vector[second] ?? 0) + 0.5;
    return { text: `${word} note ${document} part ${i}`, headingPath: [], start: i, end: i + 1, vector };
  });
}

/** Live chunk rows in one table (tombstones excluded); 0 for a table not created yet. */
async function liveRows(name: 'chunks' | 'chunks_delta', filter?: string): Promise<number> {
  const db = await connect(stores.dir);
  try {
    if (!(await db.tableNames()).includes(name)) return 0;
    // A table being created is listed before its first version is written: it has no rows yet.
    const table = await db.openTable(name).catch((error: unknown) => {
      if (String(error).includes('was not found')) return undefined;
      throw error;
    });
    if (table === undefined) return 0;
    try {
      return await table.countRows([`tenant <> ''`, filter].filter(Boolean).join(' AND '));
    } finally {
      table.close();
    }
  } finally {
    db.close();
  }
}

function hybrid(store: Store, word = 'lighthouse'): Promise<SearchHit[]> {
  const vector = new Float32Array(DIM).fill(1);
  return store.search('acme', { text: word, vector, model: TEST_MODEL, topK: 500 });
}

function textOnly(store: Store, word = 'lighthouse'): Promise<SearchHit[]> {
  return store.search('acme', { mode: 'text', text: word, topK: 500 });
}

function vectorOnly(store: Store): Promise<SearchHit[]> {
  const vector = new Float32Array(DIM).fill(1);
  return store.search('acme', { mode: 'vector', vector, model: TEST_MODEL, topK: 500 });
}

/** Rows the delta's vector index holds; 0 while it has none. */
async function deltaVectorIndexRows(): Promise<number> {
  const db = await connect(stores.dir);
  try {
    if (!(await db.tableNames()).includes('chunks_delta')) return 0;
    const table = await db.openTable('chunks_delta');
    try {
      return (await table.indexStats('vector_idx'))?.numIndexedRows ?? 0;
    } finally {
      table.close();
    }
  } finally {
    db.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the delta table', () => {
  it('moves into the main table past its bound, and a reader finds every chunk once throughout', async () => {
    const runs: MaintenanceStats[] = [];
    const writer = await open({ maxDeltaRows: 12, onMaintenance: (stats) => runs.push(stats) });
    const reader = await open();
    const written = new Set<string>();
    let writing = true;
    const problems: string[] = [];
    let reads = 0;
    const readLoop = async (search: (store: Store) => Promise<SearchHit[]>): Promise<void> => {
      while (writing) {
        // Documents whose write returned before this search began must all be there.
        const expected = [...written];
        const hits = await search(reader);
        reads++;
        const ids = hits.map((hit) => hit.chunkId);
        if (new Set(ids).size !== ids.length) problems.push(`a chunk counted twice: ${ids.join(' ')}`);
        const found = new Set(hits.map((hit) => hit.documentId));
        const missing = expected.filter((id) => !found.has(id));
        if (missing.length > 0) problems.push(`missing ${missing.join(', ')}`);
      }
    };
    // Readers start once the store holds a document (an empty store answers `not_ready`).
    let readers: Promise<void>[] = [];
    for (let d = 0; d < 30; d++) {
      await writer.replaceDocument(testDocument(`n${d}`), chunks(d));
      written.add(`n${d}`);
      if (d === 0) readers = [readLoop(hybrid), readLoop(textOnly)];
      // Give maintenance, which runs on its own clock, room to move and fold between writes.
      if (d % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 400));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    writing = false;
    await Promise.all(readers);

    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(20);
    expect(runs.filter((run) => run.operation === 'move').length).toBeGreaterThan(0);
    expect(await liveRows('chunks')).toBeGreaterThan(0);
    // Every chunk is somewhere, and the two tables together hold no more than a move in flight.
    const hits = await hybrid(reader);
    expect(hits).toHaveLength(90);
    expect(new Set(hits.map((hit) => hit.documentId)).size).toBe(30);

    // A forced run finishes the move: the delta is empty, the main table holds everything.
    await writer.maintain();
    expect(await liveRows('chunks_delta')).toBe(0);
    expect(await liveRows('chunks')).toBe(90);
    expect(await hybrid(reader)).toHaveLength(90);
    expect(await textOnly(reader)).toHaveLength(90);
  });

  it('moves into the main table on its own once writes stop, whatever its size', async () => {
    const runs: MaintenanceStats[] = [];
    const writer = await open({
      maxDeltaRows: 1_000,
      quietMoveSeconds: 0.5,
      moveGraceSeconds: 0.3,
      onMaintenance: (stats) => runs.push(stats),
    });
    const reader = await open();
    for (let d = 0; d < 5; d++) await writer.replaceDocument(testDocument(`q${d}`), chunks(d));
    expect(await liveRows('chunks')).toBe(0);

    // No forced run: the quiet period alone moves the rows, then lets them go from the delta.
    // Every read meanwhile finds each chunk once.
    const problems: string[] = [];
    const deadline = Date.now() + 15_000;
    while ((await liveRows('chunks_delta')) > 0 && Date.now() < deadline) {
      for (const search of [hybrid, textOnly]) {
        const ids = (await search(reader)).map((hit) => hit.chunkId);
        if (ids.length !== 15 || new Set(ids).size !== 15)
          problems.push(`${ids.length} hits: ${ids.join(' ')}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await liveRows('chunks_delta')).toBe(0);
    expect(await liveRows('chunks')).toBe(15);
    expect(runs.filter((run) => run.operation === 'move').map((run) => run.rows)).toEqual([15]);
    expect(await hybrid(reader)).toHaveLength(15);
    expect(await textOnly(reader)).toHaveLength(15);
  });

  it('gets its own vector index once large enough, and a vector search still finds every chunk once', async () => {
    // Folds after a few rows, as under steady ingestion; no move (the bound is far).
    const writer = await open({ maxDeltaRows: 1_000, vectorIndexMinRows: 30, maxUnindexedRows: 10 });
    const reader = await open();
    for (let d = 0; d < 12; d++) await writer.replaceDocument(testDocument(`x${d}`), chunks(d));
    const deadline = Date.now() + 15_000;
    while ((await deltaVectorIndexRows()) === 0 && Date.now() < deadline) await sleep(50);
    expect(await deltaVectorIndexRows()).toBeGreaterThanOrEqual(30);
    expect(await liveRows('chunks')).toBe(0);

    // Written after the index: outside it until the next fold, and found all the same.
    for (let d = 12; d < 16; d++) await writer.replaceDocument(testDocument(`x${d}`), chunks(d));
    const ids = (await vectorOnly(reader)).map((hit) => hit.chunkId);
    expect(ids).toHaveLength(48);
    expect(new Set(ids).size).toBe(48);
  });

  it('finds a document written a moment ago: past the hybrid scan bound by its vector, text-only by a scan, until the fold', async () => {
    const writer = await open({ maxDeltaRows: 1_000, maxUnindexedRows: 1_000, maxUnindexedSeconds: 600 });
    // A reader that scans no unindexed row for a hybrid search (the default scans up to 200).
    const reader = await open({ hybridTextTailScanRows: 0 });
    const smallTail = await open();
    for (let d = 0; d < 3; d++) await writer.replaceDocument(testDocument(`f${d}`), chunks(d));
    // Every row so far into the main table and its indexes; the delta keeps its full-text index.
    await writer.maintain();
    await writer.replaceDocument(testDocument('fresh'), chunks(7, 3, 'albatross'));

    // Outside the delta's full-text index: a hybrid search reaches these rows through its vector
    // side only (a scan of them per query is what it saves), a text-only search scans them.
    const vector = chunks(7, 1)[0]!.vector;
    const hybridHits = await reader.search('acme', {
      text: 'albatross',
      vector,
      model: TEST_MODEL,
      topK: 500,
    });
    const fresh = hybridHits.filter((hit) => hit.documentId === 'fresh');
    expect(fresh).toHaveLength(3);
    expect(fresh.map((hit) => hit.matched)).toEqual([['vector'], ['vector'], ['vector']]);
    const textHits = await textOnly(reader, 'albatross');
    expect(textHits.map((hit) => hit.documentId)).toEqual(['fresh', 'fresh', 'fresh']);
    // Within the default bound, a hybrid search scans them.
    const scanned = await smallTail.search('acme', {
      text: 'albatross',
      vector,
      model: TEST_MODEL,
      topK: 500,
    });
    expect(scanned.filter((hit) => hit.documentId === 'fresh').every((hit) => hit.matched.length === 2)).toBe(
      true,
    );

    // Once folded, the text side finds them too.
    await writer.maintain();
    const folded = await reader.search('acme', { text: 'albatross', vector, model: TEST_MODEL, topK: 500 });
    expect(folded.filter((hit) => hit.documentId === 'fresh').map((hit) => [...hit.matched].sort())).toEqual([
      ['text', 'vector'],
      ['text', 'vector'],
      ['text', 'vector'],
    ]);
  });

  it('replaces and deletes documents whose chunks were moved, and old versions never come back', async () => {
    const writer = await open({ maxDeltaRows: 1_000 });
    const reader = await open();
    for (let d = 0; d < 4; d++) await writer.replaceDocument(testDocument(`m${d}`), chunks(d));
    await writer.maintain();
    expect(await liveRows('chunks')).toBe(12);

    // m0 shrinks to one chunk with new words; m1 is deleted; m2 is replaced twice, the second
    // time after its first replacement was moved too.
    await writer.replaceDocument(testDocument('m0'), chunks(0, 1, 'beacon'));
    expect(await writer.deleteDocument('acme', 'docs', 'm1')).toBe(true);
    await writer.replaceDocument(testDocument('m2'), chunks(2, 2, 'beacon'));
    await writer.maintain();
    await writer.replaceDocument(testDocument('m2'), chunks(2, 4, 'harbour'));

    const byDocument = (hits: SearchHit[]) =>
      Object.fromEntries(
        [...new Set(hits.map((hit) => hit.documentId))]
          .sort()
          .map((id) => [id, hits.filter((hit) => hit.documentId === id).map((hit) => hit.version)]),
      );
    const check = async (): Promise<void> => {
      expect(byDocument(await hybrid(reader))).toEqual({ m0: [2], m2: [3, 3, 3, 3], m3: [1, 1, 1] });
      expect(byDocument(await textOnly(reader, 'lighthouse'))).toEqual({ m3: [1, 1, 1] });
      expect(byDocument(await textOnly(reader, 'beacon'))).toEqual({ m0: [2] });
      expect(byDocument(await textOnly(reader, 'harbour'))).toEqual({ m2: [3, 3, 3, 3] });
    };
    await check();
    await writer.maintain();
    await check();
    expect((await liveRows('chunks')) + (await liveRows('chunks_delta'))).toBe(1 + 4 + 3);
  });

  it('loses nothing when a writer stops in the middle of a move', async () => {
    const first = await open({ maxDeltaRows: 6 });
    for (let d = 0; d < 4; d++) await first.replaceDocument(testDocument(`r${d}`), chunks(d));
    // Past the bound: the next check moves the rows; the writer stops as soon as they are in the
    // main table, before deleting them from the delta (that waits for the main table's fold and a
    // 10 s grace). Polled, not slept: under a full test run on two cores the move can take seconds.
    const deadline = Date.now() + 15_000;
    while ((await liveRows('chunks')) < 12 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await first.close();
    expect(await liveRows('chunks')).toBe(12);

    const second = await open({ maxDeltaRows: 6 });
    const reader = await open();
    expect(await hybrid(reader)).toHaveLength(12);
    await second.replaceDocument(testDocument('r1'), chunks(1, 2, 'beacon'));
    await second.maintain();
    expect(await liveRows('chunks_delta')).toBe(0);
    const hits = await hybrid(reader);
    expect(hits).toHaveLength(3 * 3 + 2);
    expect(hits.filter((hit) => hit.documentId === 'r1').map((hit) => hit.version)).toEqual([2, 2]);
  });
});
