import { connect } from '@lancedb/lancedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChunkInput, MaintenanceStats, StoreWriter as Store } from './index.ts';
import { TEST_MODEL, testDocument } from './test-documents.ts';
import { tempStores } from './test-stores.ts';

/**
 * What a long-running store keeps in memory and on disk under steady writes. Every write is a
 * commit: a new table version with its own manifest and data files, whose metadata a reader caches
 * when it reads that version.
 */

const DIM = 8;
const KIB = 1024;

function chunks(write: number): ChunkInput[] {
  return Array.from({ length: 3 }, (_, i) => {
    const vector = new Float32Array(DIM);
    vector[(write + i) % DIM] = 1;
    return {
      text: `write ${write} chunk ${i} about harbours`,
      headingPath: [],
      start: i,
      end: i + 1,
      vector,
    };
  });
}

const stores = tempStores('upkeep');
beforeEach(stores.setUp);
afterEach(stores.tearDown);
const { open } = stores;

/** Rewrites five documents in turn, `writes` times in all, as a steady ingest does. */
async function rewrite(store: Store, writes: number): Promise<void> {
  for (let i = 0; i < writes; i++) await store.replaceDocument(testDocument(`d${i % 5}`), chunks(i));
}

/** Versions of the delta table, where commits write. */
async function chunkVersions(): Promise<number> {
  const db = await connect(stores.dir);
  const table = await db.openTable('chunks_delta');
  try {
    return (await table.listVersions()).length;
  } finally {
    table.close();
    db.close();
  }
}

describe('table versions', () => {
  it('are removed at compaction once past their retention, and reads still see every document', async () => {
    const writer = await open({ versionRetentionSeconds: 0 });
    const reader = await open();
    await rewrite(writer, 40);
    await writer.maintain();
    // At least one version per write without cleanup; what is left are the compaction's own.
    expect(await chunkVersions()).toBeLessThan(10);
    const hits = await reader.search('acme', { mode: 'text', text: 'harbour', topK: 50 });
    expect(new Set(hits.map((hit) => hit.documentId))).toEqual(new Set(['d0', 'd1', 'd2', 'd3', 'd4']));
    expect(hits).toHaveLength(15);
  });

  it('are kept while recent, so a reader still on one is not broken', async () => {
    const writer = await open();
    await rewrite(writer, 20);
    await writer.maintain();
    expect(await chunkVersions()).toBeGreaterThanOrEqual(20);
  });
});

describe('maintenance reports', () => {
  it('say which table was compacted, how long it took and how large it was', async () => {
    const runs: MaintenanceStats[] = [];
    const writer = await open({ onMaintenance: (stats) => runs.push(stats) });
    await rewrite(writer, 10);
    await writer.maintain();
    const chunkRuns = runs.filter((run) => run.table === 'chunks' && run.operation === 'optimize');
    expect(chunkRuns.length).toBeGreaterThan(0);
    // Five documents of three chunks are current; the rows counted include superseded ones not yet
    // compacted away, never fewer than the current ones.
    expect(chunkRuns.at(-1)!.rows).toBeGreaterThanOrEqual(15);
    expect(chunkRuns.at(-1)!.fragments).toBeGreaterThan(0);
    expect(chunkRuns.at(-1)!.ms).toBeGreaterThan(0);
    expect(runs.some((run) => run.table === 'documents' && run.operation === 'optimize')).toBe(true);
  });
});

describe('the vector index', () => {
  async function vectorSegments(): Promise<number> {
    const db = await connect(stores.dir);
    const table = await db.openTable('chunks');
    try {
      return (await table.indexStats('vector_idx'))?.numIndices ?? 0;
    } finally {
      table.close();
      db.close();
    }
  }

  it('is rebuilt as one segment past its bound, and every chunk is still found', async () => {
    const runs: MaintenanceStats[] = [];
    const writer = await open({
      vectorIndexMinRows: 30,
      maxVectorIndexSegments: 2,
      onMaintenance: (stats) => runs.push(stats),
    });
    const reader = await open();
    const seen: number[] = [];
    for (let i = 0; i < 36; i++) {
      await writer.replaceDocument(testDocument(`v${i}`), chunks(i));
      // Each fold of new rows adds a segment to the vector index.
      if (i % 3 === 2) {
        await writer.maintain();
        seen.push(await vectorSegments());
      }
    }
    // The initial build, then rebuilds whenever a fold took the index past two segments.
    expect(runs.filter((run) => run.operation === 'vector index').length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...seen)).toBeLessThanOrEqual(3);
    const hits = await reader.search('acme', {
      mode: 'vector',
      vector: chunks(0)[0]!.vector,
      model: TEST_MODEL,
      topK: 200,
    });
    expect(new Set(hits.map((hit) => hit.documentId)).size).toBe(36);
  });
});

describe('cacheUsage', () => {
  it('reports the caches the store reads through, within the configured bounds', async () => {
    const bound = { indexCacheBytes: 256 * KIB, metadataCacheBytes: 256 * KIB };
    const writer = await open({ ...bound, maxUnindexedRows: 10 });
    const reader = await open(bound);
    for (let round = 0; round < 12; round++) {
      await rewrite(writer, 5);
      await reader.search('acme', {
        text: 'harbour',
        vector: chunks(round)[0]!.vector,
        model: TEST_MODEL,
        topK: 5,
      });
      await reader.getDocument('acme', 'docs', 'd0');
    }
    for (const store of [writer, reader]) {
      const usage = store.cacheUsage();
      // Entries at all: the bounds apply to the caches in use, not to an unused session.
      expect(usage.entries).toBeGreaterThan(0);
      expect(usage.bytes).toBeGreaterThan(0);
      expect(usage.bytes).toBeLessThanOrEqual(bound.indexCacheBytes + bound.metadataCacheBytes);
    }
  });
});
