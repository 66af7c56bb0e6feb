import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  openStoreReader,
  openStoreWriter,
  type ChunkInput,
  type DocumentInput,
  type StoreReader,
  type StoreWriter,
} from '@hopper/store';
import { RedisCommitClock } from './commit-clock.ts';
import { DocumentWriteLocks } from './document-write-locks.ts';
import { useTestRedis } from '../../../test/support/test-redis.ts';

// The commit clock against a real Redis and a real store: a gateway's search, served by its mirror,
// finds every write and delete that returned before it began, on the clock's word alone.

const { keys, redis: connection } = useTestRedis();
let redis: Redis;
let dir: string;
const opened: (StoreWriter | StoreReader)[] = [];

beforeEach(async () => {
  redis = connection();
  // Each test starts without a clock.
  await redis.del(keys.commitClock, keys.commitNotes);
  dir = await mkdtemp(join(tmpdir(), 'hopper-clock-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await rm(dir, { recursive: true, force: true });
});

const clock = () => new RedisCommitClock(redis, keys);

/**
 * A worker's store, as apps/worker/src/main.ts opens it (the parts this test needs), on a clock
 * that has run before (other writes ticked it), so searches read it from their first.
 */
async function writer(): Promise<StoreWriter> {
  await clock().tick();
  const store = await openStoreWriter({
    uri: dir,
    documentLocks: new DocumentWriteLocks(redis, keys),
    commitClock: clock(),
    // Small bounds: the delta moves into the main table while the test writes.
    maxDeltaRows: 12,
    moveGraceSeconds: 1,
  });
  opened.push(store);
  return store;
}

/**
 * A gateway's store with its search mirror, loaded; `engines` records what answered each search,
 * `updates` how the mirror took in each commit (from its note, or by reading the tables).
 */
async function mirroredReader(engines: string[], updates: string[] = []): Promise<StoreReader> {
  let ready: () => void = () => undefined;
  const loaded = new Promise<void>((resolve) => (ready = resolve));
  const store = await openStoreReader({
    uri: dir,
    readConsistencyIntervalSeconds: 0,
    commitClock: clock(),
    searchMirror: {
      maxRows: 10_000,
      onReady: () => ready(),
      onOff: () => ready(),
      onUpdate: (source) => updates.push(source),
    },
    onSearch: (engine) => engines.push(engine),
  });
  opened.push(store);
  await loaded;
  return store;
}

function doc(documentId: string): DocumentInput {
  return {
    tenant: 'acme',
    collection: 'c',
    documentId,
    title: documentId,
    mediaType: 'text/plain',
    contentHash: `${documentId}:${randomUUID()}`,
    metadata: {},
    model: 'test-model',
  };
}

function chunks(words: string, count = 3): ChunkInput[] {
  return Array.from({ length: count }, (_, i) => ({
    text: `${words} part ${i}`,
    headingPath: [],
    start: i,
    end: i + 1,
    vector: new Float32Array([1, i, 0, 0]),
  }));
}

/** The chunk ids a text search finds, sorted. */
async function found(reader: StoreReader, text: string): Promise<string[]> {
  const hits = await reader.search('acme', { mode: 'text', text, topK: 500 });
  return hits.map((hit) => hit.chunkId).sort();
}

describe('the commit clock', () => {
  it('counts ticks in an epoch, and starts a new epoch at the next tick once Redis lost it', async () => {
    const shared = clock();
    expect(await shared.read()).toBeUndefined();
    await shared.tick();
    await clock().tick();
    const first = await shared.read();
    expect(first?.count).toBe(2);
    expect(first?.epoch).toMatch(/^[0-9a-f-]{36}$/);

    await redis.del(keys.commitClock);
    expect(await shared.read()).toBeUndefined();
    await shared.tick();
    const next = await shared.read();
    expect(next?.count).toBe(1);
    expect(next?.epoch).not.toBe(first?.epoch);
  });

  it("lets a mirrored search find each write and delete as soon as it returned, on the clock's word", async () => {
    const store = await writer();
    await store.replaceDocument(doc('first'), chunks('harbour'));
    const engines: string[] = [];
    const updates: string[] = [];
    const gateway = await mirroredReader(engines, updates);
    expect(await found(gateway, 'harbour')).toEqual(['first:1:0', 'first:1:1', 'first:1:2']);

    await store.replaceDocument(doc('second'), chunks('gannet', 2));
    expect(await found(gateway, 'gannet')).toEqual(['second:1:0', 'second:1:1']);
    // A replacement: its new version only.
    await store.replaceDocument(doc('second'), chunks('puffin', 1));
    expect(await found(gateway, 'puffin')).toEqual(['second:2:0']);
    expect(await found(gateway, 'gannet')).toEqual([]);
    expect(await store.deleteDocument('acme', 'c', 'first')).toBe(true);
    expect(await found(gateway, 'harbour')).toEqual([]);
    // Each of the four changes ticked the clock once, after the tick it had already, and the
    // mirror took changes in from their notes.
    expect((await clock().read())?.count).toBe(5);
    expect(updates.filter((source) => source === 'note').length).toBeGreaterThan(0);

    // Redis lost the clock: searches read the tables' versions until the next tick starts a new
    // epoch, and still find every write.
    await redis.del(keys.commitClock);
    expect(await found(gateway, 'puffin')).toEqual(['second:2:0']);
    await store.replaceDocument(doc('third'), chunks('lantern'));
    expect(await found(gateway, 'lantern')).toEqual(['third:1:0', 'third:1:1', 'third:1:2']);
    await store.replaceDocument(doc('fourth'), chunks('lantern', 1));
    expect(await found(gateway, 'lantern')).toEqual(['fourth:1:0', 'third:1:0', 'third:1:1', 'third:1:2']);
    expect(new Set(engines)).toEqual(new Set(['mirror']));
  });

  it('lets searches running beside writes and deletes see each as soon as it returned, also while the mirror reads the tables', async () => {
    const store = await writer();
    await store.replaceDocument(doc('doc-0'), chunks('puffin doc-0'));
    const engines: string[] = [];
    const updates: string[] = [];
    const gateway = await mirroredReader(engines, updates);
    // Documents whose write, or delete, has returned: a search that begins after must show it.
    let finished = 1;
    const deleted = new Set<number>();
    // Deletes begun: until one returns, a search may find the document whole or not at all.
    const deleting = new Set<number>();
    let writing = true;
    const writes = (async () => {
      try {
        for (let document = 1; document < 40; document++) {
          // Every fifth write replaces an earlier document: its old version's rows leave the tables.
          if (document % 5 === 0) {
            await store.replaceDocument(doc(`doc-${document - 3}`), chunks(`puffin doc-${document - 3}`));
          }
          await store.replaceDocument(doc(`doc-${document}`), chunks(`puffin doc-${document}`));
          if (document % 7 === 0) {
            deleting.add(document - 5);
            await store.deleteDocument('acme', 'c', `doc-${document - 5}`);
            deleted.add(document - 5);
          }
          finished = document + 1;
        }
      } finally {
        writing = false;
      }
    })();
    // Ticks without a note (as a commit too large to note sends) between the writes: the mirror
    // reads the tables for them while the next writes' notes keep coming.
    const bareTicks = (async () => {
      while (writing) {
        await clock().tick();
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    })();
    const searches = await Promise.all(
      Array.from({ length: 4 }, async () => {
        let made = 0;
        while (writing) {
          const expected = finished;
          const gone = new Set(deleted);
          const hits = await gateway.search('acme', { mode: 'text', text: 'puffin', topK: 500 });
          expect(new Set(hits.map((hit) => hit.chunkId)).size).toBe(hits.length);
          for (let document = 0; document < expected; document++) {
            const of = hits.filter((hit) => hit.documentId === `doc-${document}`);
            if (gone.has(document)) {
              expect(of, `doc-${document} deleted`).toHaveLength(0);
              continue;
            }
            if (deleting.has(document) && of.length === 0) continue;
            // One version of each document, whole: its three chunks.
            expect(
              new Set(of.map((hit) => hit.version)).size,
              `doc-${document} after ${expected} writes`,
            ).toBe(1);
            expect(of).toHaveLength(3);
          }
          made++;
        }
        return made;
      }),
    );
    await Promise.all([writes, bareTicks]);
    expect(searches.every((made) => made > 0)).toBe(true);
    expect(await found(gateway, 'puffin')).toHaveLength(3 * (40 - deleted.size));
    expect(new Set(engines)).toEqual(new Set(['mirror']));
    // Both ways were taken: notes applied, and reads of the tables for the bare ticks.
    expect(new Set(updates)).toEqual(new Set(['note', 'tables']));
  });
});
