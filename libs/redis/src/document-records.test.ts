import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createKeys, type Keys } from '@hopper/contracts';
import {
  openStoreReader,
  openStoreWriter,
  type ChunkInput,
  type DocumentInput,
  type DocumentRecord,
  type StoreReader,
  type StoreWriter,
  type StoreWriterOptions,
} from '@hopper/store';
import { CircuitBreaker } from './circuit-breaker.ts';
import { RedisDocumentListing } from './document-listing.ts';
import { RedisDocumentRecords } from './document-records.ts';
import { DocumentWriteLocks } from './document-write-locks.ts';

// Reads by key served from the writers' copies of the records in Redis, against a real store and a
// real Redis: what get_document and list_documents answer is always the stored record.

let redis: Redis;
let keys: Keys;
let dir: string;
const opened: (StoreWriter | StoreReader)[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(() => redis.disconnect());
beforeEach(async () => {
  keys = createKeys(`records-${randomUUID().slice(0, 8)}`);
  dir = await mkdtemp(join(tmpdir(), 'hopper-records-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  await rm(dir, { recursive: true, force: true });
  const leftovers = await redis.keys(`${keys.prefix}:*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
});

const copies = () => new RedisDocumentRecords<DocumentRecord>(redis, keys);

/** A worker's store: listing, copies and write locks in Redis, as apps/worker/src/main.ts opens it. */
async function writer(options: Omit<StoreWriterOptions, 'uri'> = {}): Promise<StoreWriter> {
  const store = await openStoreWriter({
    uri: dir,
    listing: new RedisDocumentListing(redis, keys),
    recordCopies: copies(),
    documentLocks: new DocumentWriteLocks(redis, keys),
    ...options,
  });
  opened.push(store);
  return store;
}

/** A gateway's store (reads only, every read at the latest commit); `recordCopies: false` reads only the table. */
async function reader(withCopies = true): Promise<StoreReader> {
  const store = await openStoreReader({
    uri: dir,
    readConsistencyIntervalSeconds: 0,
    listing: new RedisDocumentListing(redis, keys),
    ...(withCopies ? { recordCopies: copies() } : {}),
  });
  opened.push(store);
  return store;
}

function doc(
  documentId: string,
  title = documentId,
  metadata: DocumentInput['metadata'] = {},
): DocumentInput {
  return {
    tenant: 'acme',
    collection: 'c',
    documentId,
    title,
    mediaType: 'text/plain',
    contentHash: `${documentId}:${title}`,
    metadata,
    model: 'test-model',
  };
}

function chunk(text: string): ChunkInput[] {
  return [{ text, headingPath: [], start: 0, end: text.length, vector: new Float32Array([1, 0, 0, 0]) }];
}

const field = (documentId: string) => `c\u001f${documentId}`;

/** Changes the stored copy's title in Redis only: a read that answers with it came from the copy. */
async function tamper(documentId: string, title: string): Promise<void> {
  const key = keys.documentRecords('acme');
  const copy = JSON.parse((await redis.hget(key, `r:${field(documentId)}`)) ?? 'null') as DocumentRecord;
  expect(copy).not.toBeNull();
  await redis.hset(key, `r:${field(documentId)}`, JSON.stringify({ ...copy, title }));
}

describe('record copies', () => {
  it('serve get_document and list pages once a write committed, and follow each new version', async () => {
    const store = await writer();
    await store.syncListing();
    const gateway = await reader();
    for (const id of ['a', 'b', 'c']) await store.replaceDocument(doc(id), chunk(id));

    await tamper('b', 'from the copy');
    expect((await gateway.getDocument('acme', 'c', 'b'))?.title).toBe('from the copy');
    const page = await gateway.listDocuments('acme', { limit: 10 });
    expect(page.documents.map((d) => d.title)).toEqual(['a', 'from the copy', 'c']);

    // A new version is published as its copy, and a document without a copy is read from the table.
    const written = await store.replaceDocument(doc('b', 'second'), chunk('b2'));
    expect(written.version).toBe(2);
    expect(await gateway.getDocument('acme', 'c', 'b')).toEqual(written);
    await redis.hdel(keys.documentRecords('acme'), `r:${field('a')}`);
    expect((await gateway.listDocuments('acme', { limit: 10 })).documents).toEqual(
      (await (await reader(false)).listDocuments('acme', { limit: 10 })).documents,
    );
  });

  it('are not served for a document whose change committed but was never published', async () => {
    const store = await writer();
    const gateway = await reader();
    await store.replaceDocument(doc('a', 'first'), chunk('a'));
    // A worker dies between a commit and its publish: its mark stays, and the copy is the previous
    // version. Here the commit comes from a store without copies, after the mark a writer sets.
    await copies().mark([{ tenant: 'acme', collection: 'c', documentId: 'a' }], 'a-dead-worker');
    const bare = await openStoreWriter({ uri: dir });
    opened.push(bare);
    const second = await bare.replaceDocument(doc('a', 'second'), chunk('a2'));

    expect(await gateway.getDocument('acme', 'c', 'a')).toEqual(second);
    expect((await gateway.getDocuments('acme', 'c', ['a'])).get('a')).toEqual(second);
    // The next write of the document takes over the mark and publishes its own version.
    const third = await store.replaceDocument(doc('a', 'third'), chunk('a3'));
    expect(await redis.hexists(keys.documentRecords('acme'), `m:${field('a')}`)).toBe(0);
    await tamper('a', 'from the copy');
    expect((await gateway.getDocument('acme', 'c', 'a'))?.title).toBe('from the copy');
    expect(third.version).toBe(3);
  });

  it('go with a delete, and a re-ingest brings the document back', async () => {
    const store = await writer();
    await store.syncListing();
    const gateway = await reader();
    await store.replaceDocument(doc('a'), chunk('a'));
    await store.replaceDocument(doc('b'), chunk('b'));
    expect(await store.deleteDocument('acme', 'c', 'a')).toBe(true);

    expect(await gateway.getDocument('acme', 'c', 'a')).toBeUndefined();
    expect(await redis.hkeys(keys.documentRecords('acme'))).toEqual([`r:${field('b')}`]);
    expect((await gateway.listDocuments('acme', { limit: 10 })).documents.map((d) => d.documentId)).toEqual([
      'b',
    ]);
    const again = await store.replaceDocument(doc('a', 'again'), chunk('a'));
    expect(await gateway.getDocument('acme', 'c', 'a')).toEqual(again);
  });

  it('leave a record too large to copy to the table', async () => {
    const store = await writer();
    const gateway = await reader();
    const metadata = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, 'v'.repeat(120)]));
    const written = await store.replaceDocument(doc('big', 'big', metadata), chunk('big'));
    expect(await redis.hexists(keys.documentRecords('acme'), `r:${field('big')}`)).toBe(0);
    expect(await redis.hexists(keys.documentRecords('acme'), `m:${field('big')}`)).toBe(0);
    expect(await gateway.getDocument('acme', 'c', 'big')).toEqual(written);
    // Complete copies still send it to the table: they note it stored.
    expect(await store.syncRecordCopies()).toBe('built');
    expect(await gateway.getDocument('acme', 'c', 'big')).toEqual(written);
    expect(await gateway.getDocuments('acme', 'c', ['big'])).toEqual(new Map([['big', written]]));
  });

  it('once complete, answer for a document that is not stored without the table', async () => {
    const store = await writer();
    await store.syncListing();
    const gateway = await reader();
    const a = await store.replaceDocument(doc('a'), chunk('a'));
    expect(await store.syncRecordCopies()).toBe('built');
    expect(await gateway.getDocument('acme', 'c', 'never-stored')).toBeUndefined();
    expect(await gateway.getDocument('acme', 'c', 'a')).toEqual(a);

    // What decides is the copies: a document committed by a store that does not keep them (no
    // worker does) is not found until they are filled in again.
    const bare = await openStoreWriter({ uri: dir });
    opened.push(bare);
    const b = await bare.replaceDocument(doc('b'), chunk('b'));
    expect(await gateway.getDocument('acme', 'c', 'b')).toBeUndefined();
    // While copies are incomplete (Redis lost them), every document without one is read from the table.
    await redis.del(keys.documentRecordsComplete);
    expect(await gateway.getDocument('acme', 'c', 'b')).toEqual(b);
    expect(await store.syncRecordCopies()).toBe('built');
    expect(await gateway.getDocument('acme', 'c', 'b')).toEqual(b);
    expect(await gateway.getDocument('acme', 'c', 'never-stored')).toBeUndefined();
  });

  it('filled in before large records were noted are filled in again', async () => {
    const store = await writer();
    const gateway = await reader();
    const metadata = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, 'v'.repeat(120)]));
    const big = await store.replaceDocument(doc('big', 'big', metadata), chunk('big'));
    // As a Hopper from before the `x:` fields left them: no field for the large record, and the
    // copies noted complete under the key of that time.
    await redis.hdel(keys.documentRecords('acme'), `x:${field('big')}`);
    await redis.set(`${keys.prefix}:records-complete`, 'then');
    expect(await gateway.getDocument('acme', 'c', 'big')).toEqual(big);
    expect(await store.syncRecordCopies()).toBe('built');
    expect(await redis.hexists(keys.documentRecords('acme'), `x:${field('big')}`)).toBe(1);
    expect(await gateway.getDocument('acme', 'c', 'big')).toEqual(big);
  });

  it('are the stored record after writes and deletes of one document race on two workers', async () => {
    const first = await writer();
    const second = await writer();
    await first.syncListing();
    const gateway = await reader();
    const table = await reader(false);
    for (let round = 0; round < 12; round++) {
      // Two workers, one document: re-ingests on both, and a delete on one, all at once.
      await Promise.all([
        first.replaceDocument(doc('x', `first ${round}`), chunk(`first ${round}`)),
        second.deleteDocument('acme', 'c', 'x'),
        second.replaceDocument(doc('x', `second ${round}`), chunk(`second ${round}`)),
      ]);
      expect(await gateway.getDocument('acme', 'c', 'x')).toEqual(await table.getDocument('acme', 'c', 'x'));
      expect((await gateway.listDocuments('acme', { limit: 5 })).documents).toEqual(
        (await table.listDocuments('acme', { limit: 5 })).documents,
      );
    }
    // Nothing is left marked: every change published or forgot its copy.
    const fields = await redis.hkeys(keys.documentRecords('acme'));
    expect(fields.filter((name) => name.startsWith('m:'))).toEqual([]);
  });

  it('are kept right because a delete waits for the write lock a write of the same document holds', async () => {
    const store = await writer();
    const gateway = await reader();
    await store.replaceDocument(doc('a'), chunk('a'));
    // Another worker in the middle of writing the document.
    const other = new DocumentWriteLocks(redis, keys);
    const documentKey = ['acme', 'c', 'a'].join('\u001f');
    expect(await other.tryAcquire([documentKey])).toEqual([documentKey]);
    let settled = false;
    const deleting = store.deleteDocument('acme', 'c', 'a').finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    expect(await gateway.getDocument('acme', 'c', 'a')).toBeDefined();
    await other.release([documentKey]);
    expect(await deleting).toBe(true);
    expect(await gateway.getDocument('acme', 'c', 'a')).toBeUndefined();
  });

  it('are filled in for a store written without them, once, leaving a document being written to its writer', async () => {
    const bare = await openStoreWriter({ uri: dir });
    opened.push(bare);
    for (const id of ['a', 'b', 'c']) await bare.replaceDocument(doc(id), chunk(id));
    await bare.deleteDocument('acme', 'c', 'b');
    const store = await writer();
    const gateway = await reader();
    expect(await redis.exists(keys.documentRecords('acme'))).toBe(0);
    expect((await gateway.getDocument('acme', 'c', 'a'))?.title).toBe('a');

    // Another worker is writing `c`: its own publish will make that copy.
    const other = new DocumentWriteLocks(redis, keys);
    const beingWritten = ['acme', 'c', 'c'].join('\u001f');
    await other.tryAcquire([beingWritten]);
    expect(await store.syncRecordCopies()).toBe('built');
    await other.release([beingWritten]);
    // Marked, so read from the table (that worker may stop before its own mark) until it next changes.
    expect((await redis.hkeys(keys.documentRecords('acme'))).sort()).toEqual([
      `m:${field('c')}`,
      `r:${field('a')}`,
    ]);
    await tamper('a', 'from the copy');
    expect((await gateway.getDocument('acme', 'c', 'a'))?.title).toBe('from the copy');
    expect((await gateway.getDocument('acme', 'c', 'c'))?.title).toBe('c');
    expect(await store.syncRecordCopies()).toBe('complete');

    // Redis loses them (a restart without persistence): the mark goes too, and they are filled in again.
    await redis.del(keys.documentRecords('acme'), keys.documentRecordsComplete);
    expect(await store.syncRecordCopies()).toBe('built');
    expect((await redis.hkeys(keys.documentRecords('acme'))).sort()).toEqual([
      `r:${field('a')}`,
      `r:${field('c')}`,
    ]);
    expect(await gateway.getDocument('acme', 'c', 'a')).toEqual(
      await (await reader(false)).getDocument('acme', 'c', 'a'),
    );
  });

  it('are not waited for: a Redis that never answers leaves every read to the table, within the timeout', async () => {
    const store = await writer();
    await store.syncListing();
    await store.replaceDocument(doc('a'), chunk('a'));
    // A Redis that accepts connections and never answers (a black-holed network path).
    const silent = createServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const stuck = new Redis({ port: (silent.address() as AddressInfo).port, maxRetriesPerRequest: null });
    stuck.on('error', () => undefined);
    // As the gateway opens them: reads behind a breaker and a timeout.
    const reads = { breaker: new CircuitBreaker(), timeoutMs: 100 };
    const gateway = await openStoreReader({
      uri: dir,
      readConsistencyIntervalSeconds: 0,
      listing: new RedisDocumentListing(stuck, keys, { reads }),
      recordCopies: new RedisDocumentRecords<DocumentRecord>(stuck, keys, { reads }),
    });
    opened.push(gateway);
    try {
      const started = Date.now();
      expect((await gateway.getDocument('acme', 'c', 'a'))?.title).toBe('a');
      expect((await gateway.listDocuments('acme', { limit: 5 })).documents.map((d) => d.documentId)).toEqual([
        'a',
      ]);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      stuck.disconnect();
      silent.close();
    }
  });
});
