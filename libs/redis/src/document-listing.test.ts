import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createKeys, type Keys } from '@hopper/contracts';
import {
  openStoreWriter,
  type ChunkInput,
  type DocumentInput,
  type StoreWriter,
  type StoreWriterOptions,
} from '@hopper/store';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisDocumentListing } from './document-listing.ts';
import { DocumentWriteLocks } from './document-write-locks.ts';

// The listing against a real store and a real Redis: what list_documents answers, whether the
// listing serves it or the store sorts its table.

let redis: Redis;
let keys: Keys;
let dir: string;
const opened: StoreWriter[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(() => redis.disconnect());
beforeEach(async () => {
  keys = createKeys(`listing-${randomUUID().slice(0, 8)}`);
  dir = await mkdtemp(join(tmpdir(), 'hopper-listing-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await rm(dir, { recursive: true, force: true });
  const leftovers = await redis.keys(`${keys.prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
});

async function open(options: Omit<StoreWriterOptions, 'uri'> = {}): Promise<StoreWriter> {
  const store = await openStoreWriter({ uri: dir, ...options });
  opened.push(store);
  return store;
}

const listing = () => new RedisDocumentListing(redis, keys);

function doc(tenant: string, collection: string, documentId: string): DocumentInput {
  return {
    tenant,
    collection,
    documentId,
    title: documentId,
    mediaType: 'text/plain',
    contentHash: documentId,
    metadata: {},
    model: 'test-model',
  };
}

function chunk(text: string): ChunkInput[] {
  return [{ text, headingPath: [], start: 0, end: text.length, vector: new Float32Array([1, 0, 0, 0]) }];
}

/** Every page of a listing, as `collection/documentId`, and how many pages it took. */
async function listAll(
  store: StoreWriter,
  tenant: string,
  limit: number,
  collection?: string,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.listDocuments(tenant, {
      limit,
      ...(collection ? { collection } : {}),
      ...(cursor ? { cursor } : {}),
    });
    ids.push(...page.documents.map((d) => `${d.collection}/${d.documentId}`));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { ids, pages };
}

const WRITTEN = [
  ['b', 'x'],
  ['a', 'z'],
  ['b', 'a'],
  ['a', 'a'],
  ['a', 'm'],
  ['ab', 'c'],
  ['a', 'é'],
] as const;
const ORDERED = ['a/a', 'a/m', 'a/z', 'a/é', 'ab/c', 'b/a', 'b/x'];

describe('the document listing', () => {
  it('pages as the sorted table does, and is what pages come from once complete', async () => {
    const store = await open({ listing: listing() });
    expect(await store.syncListing()).toBe('built');
    await Promise.all(
      WRITTEN.map(([collection, id]) => store.replaceDocument(doc('acme', collection, id), chunk(id))),
    );
    await store.replaceDocument(doc('other', 'a', 'b'), chunk('other tenant'));

    for (const limit of [1, 2, 3, 10]) {
      expect(await listAll(store, 'acme', limit)).toEqual({
        ids: ORDERED,
        pages: Math.max(1, Math.ceil(ORDERED.length / limit)),
      });
    }
    expect((await listAll(store, 'acme', 2, 'a')).ids).toEqual(['a/a', 'a/m', 'a/z', 'a/é']);
    expect((await listAll(store, 'acme', 2, 'ab')).ids).toEqual(['ab/c']);
    expect((await listAll(store, 'acme', 2, 'c')).ids).toEqual([]);
    expect((await listAll(store, 'other', 2)).ids).toEqual(['a/b']);

    // The same pages from a store without a listing (it sorts the table).
    const sorted = await open();
    expect(await listAll(sorted, 'acme', 3)).toEqual(await listAll(store, 'acme', 3));

    // Pages come from the listing: a document taken out of it (only there) is no longer listed,
    // though it is still stored.
    await listing().remove([{ tenant: 'acme', collection: 'a', documentId: 'm' }]);
    expect((await listAll(store, 'acme', 2)).ids).toEqual(ORDERED.filter((id) => id !== 'a/m'));
    expect(await store.getDocument('acme', 'a', 'm')).toBeDefined();
  });

  it('skips keys without a document, and forgets deleted ones', async () => {
    const store = await open({ listing: listing() });
    await store.syncListing();
    for (const [collection, id] of WRITTEN)
      await store.replaceDocument(doc('acme', collection, id), chunk(id));
    // Keys a failed write left behind, between and around the stored documents.
    await listing().add(
      ['a/b', 'a/c', 'a/d', 'a/n', 'a/o', 'aa/x', 'b/b', 'c/z'].map((id) => {
        const [collection, documentId] = id.split('/') as [string, string];
        return { tenant: 'acme', collection, documentId };
      }),
    );
    for (const limit of [1, 2, 5]) expect((await listAll(store, 'acme', limit)).ids).toEqual(ORDERED);

    expect(await store.deleteDocument('acme', 'a', 'z')).toBe(true);
    expect(await redis.zscore(keys.documentListing('acme'), `a\u001fz`)).toBeNull();
    expect((await listAll(store, 'acme', 2)).ids).toEqual(ORDERED.filter((id) => id !== 'a/z'));
  });

  it('prunes the keys no document backs once a page has skipped them, but not a document being written', async () => {
    const store = await open({ listing: listing(), documentLocks: new DocumentWriteLocks(redis, keys) });
    await store.syncListing();
    for (const [collection, id] of WRITTEN)
      await store.replaceDocument(doc('acme', collection, id), chunk(id));
    const listed = (ids: string[]) =>
      ids.map((id) => {
        const [collection, documentId] = id.split('/') as [string, string];
        return { tenant: 'acme', collection, documentId };
      });
    // Keys failed writes left behind; and a/n, listed by another worker's write before its commit.
    await listing().add(listed(['a/b', 'a/n', 'b/b']));
    const other = new DocumentWriteLocks(redis, keys);
    const writing = ['acme', 'a', 'n'].join('\u001f');
    expect(await other.tryAcquire([writing])).toEqual([writing]);

    // Nothing is suspected until a page skips the keys.
    expect(await store.pruneListing()).toEqual({ checked: 0, removed: 0 });
    expect((await listAll(store, 'acme', 10)).ids).toEqual(ORDERED);
    await expect.poll(() => redis.scard(keys.documentListingSuspects)).toBe(3);

    // The stale keys go; the one being written stays, and so does every stored document.
    expect(await store.pruneListing()).toEqual({ checked: 2, removed: 2 });
    const members = await redis.zrange(keys.documentListing('acme'), 0, -1);
    expect(members.map((member) => member.replace('\u001f', '/'))).toEqual(
      [...ORDERED, 'a/n'].sort((x, y) => (x < y ? -1 : 1)),
    );
    // The one being written is checked again once its writer is done.
    expect(await redis.smembers(keys.documentListingSuspects)).toEqual(['acme\u001fa\u001fn']);
    // Its commit lands: the key it listed is its document's.
    await other.release([writing]);
    await store.replaceDocument(doc('acme', 'a', 'n'), chunk('n'));
    expect((await listAll(store, 'acme', 10)).ids).toEqual([
      ...ORDERED.slice(0, 2),
      'a/n',
      ...ORDERED.slice(2),
    ]);
    expect(await store.pruneListing()).toEqual({ checked: 1, removed: 0 });
    expect(await redis.scard(keys.documentListingSuspects)).toBe(0);
  });

  it('lists a store written without it by sorting, and again from the listing once built', async () => {
    const before = await open();
    for (const [collection, id] of WRITTEN)
      await before.replaceDocument(doc('acme', collection, id), chunk(id));

    const store = await open({ listing: listing() });
    expect(await listing().complete()).toBe(false);
    expect((await listAll(store, 'acme', 2)).ids).toEqual(ORDERED);
    expect(await store.syncListing()).toBe('built');
    expect(await store.syncListing()).toBe('complete');
    expect(await redis.zcard(keys.documentListing('acme'))).toBe(ORDERED.length);
    expect((await listAll(store, 'acme', 2)).ids).toEqual(ORDERED);

    // Redis loses the listing (a restart without persistence): the mark goes with it, pages are
    // sorted again, and the next sync rebuilds it, writes meanwhile included.
    await redis.del(keys.documentListing('acme'), keys.documentListingComplete);
    await store.replaceDocument(doc('acme', 'a', 'b'), chunk('written while lost'));
    const expected = [...ORDERED.slice(0, 1), 'a/b', ...ORDERED.slice(1)];
    expect((await listAll(store, 'acme', 3)).ids).toEqual(expected);
    expect(await store.syncListing()).toBe('built');
    expect((await listAll(store, 'acme', 3)).ids).toEqual(expected);
  });

  it('is built by one writer at a time', async () => {
    const store = await open({ listing: listing() });
    const other = await open({ listing: listing() });
    for (let i = 0; i < 50; i++) await store.replaceDocument(doc('acme', 'c', `d${i}`), chunk(`d${i}`));
    const outcomes = await Promise.all([store.syncListing(), other.syncListing()]);
    expect(outcomes.sort()).toEqual(['built', 'busy']);
    expect(await redis.zcard(keys.documentListing('acme'))).toBe(50);
  });
});
