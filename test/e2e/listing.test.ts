import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { createKeys } from '@hopper/contracts';
import { connectModern, structured } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

// list_documents pages through the workers' listing in Redis (docs/architecture.md, "The
// listing"): what a client sees when Redis loses it, while the worker rebuilds it, and after.

const COLLECTION = 'shelf';
let stack: TestStack;
let client: Client;

beforeAll(async () => {
  stack = await TestStack.start({ redisUrl: inject('redisUrl') });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

async function ingest(documentId: string): Promise<void> {
  structured(
    await client.callTool({
      name: 'ingest_document',
      arguments: { collection: COLLECTION, documentId, content: `Notes about ${documentId}.`, wait: true },
    }),
  );
}

/** Every document id of the collection, two a page, as a client pages through them. */
async function listAll(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = structured<{ documents: { documentId: string }[]; nextCursor?: string }>(
      await client.callTool({
        name: 'list_documents',
        arguments: { collection: COLLECTION, limit: 2, ...(cursor ? { cursor } : {}) },
      }),
    );
    ids.push(...page.documents.map((d) => d.documentId));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/** The local stack's tenant (no API keys): whose listing the worker keeps. */
const TENANT = 'local';
const keys = () => createKeys(stack.prefix);
const complete = async () => (await stack.redis.exists(keys().documentListingComplete)) === 1;

describe('the document listing', () => {
  it('lists every document while Redis has lost the listing, and the worker rebuilds it', async () => {
    for (const id of ['pear', 'apple', 'fig', 'date', 'cherry']) await ingest(id);
    expect(await listAll()).toEqual(['apple', 'cherry', 'date', 'fig', 'pear']);
    // The worker built the (empty) listing on start, and each write added its document.
    expect(await complete()).toBe(true);
    const key = keys().documentListing(TENANT);
    expect(await stack.redis.zcard(key)).toBe(5);

    // Redis loses the listing and its mark (a restart without persistence); a document arrives.
    await stack.redis.del(key, keys().documentListingComplete);
    await ingest('banana');
    expect(await listAll()).toEqual(['apple', 'banana', 'cherry', 'date', 'fig', 'pear']);

    // The worker notices within its 10 s check and builds the listing from the store.
    const deadline = Date.now() + 30_000;
    while (!(await complete()) && Date.now() < deadline) await sleep(200);
    expect(await complete()).toBe(true);
    expect(await stack.redis.zcard(key)).toBe(6);

    structured(
      await client.callTool({
        name: 'delete_document',
        arguments: { collection: COLLECTION, documentId: 'date' },
      }),
    );
    expect(await stack.redis.zscore(key, `${COLLECTION}\u001fdate`)).toBeNull();
    expect(await listAll()).toEqual(['apple', 'banana', 'cherry', 'fig', 'pear']);
  });

  it("answers get_document from the worker's copy of the record, and the worker fills in copies Redis lost", async () => {
    const records = keys().documentRecords(TENANT);
    const field = (id: string) => `${COLLECTION}\u001f${id}`;
    const getDocument = async (documentId: string) =>
      structured<{ title: string; version: number }>(
        await client.callTool({ name: 'get_document', arguments: { collection: COLLECTION, documentId } }),
      );
    await ingest('kiwi');
    // Its job completed after the copy was published: no mark is left, and the gateway reads it.
    const copy = JSON.parse((await stack.redis.hget(records, `r:${field('kiwi')}`)) ?? 'null') as {
      title: string;
    } | null;
    expect(copy).not.toBeNull();
    expect(await stack.redis.hexists(records, `m:${field('kiwi')}`)).toBe(0);
    await stack.redis.hset(
      records,
      `r:${field('kiwi')}`,
      JSON.stringify({ ...copy, title: 'from the copy' }),
    );
    expect((await getDocument('kiwi')).title).toBe('from the copy');

    // Redis loses the copies and their mark: reads go to the store, and the worker fills them in
    // again within its 10 s check.
    await ingest('lime');
    await stack.redis.del(records, keys().documentRecordsComplete);
    expect((await getDocument('lime')).version).toBe(1);
    const deadline = Date.now() + 30_000;
    while ((await stack.redis.exists(keys().documentRecordsComplete)) === 0 && Date.now() < deadline) {
      await sleep(200);
    }
    expect(await stack.redis.hexists(records, `r:${field('lime')}`)).toBe(1);
    expect(await stack.redis.hexists(records, `r:${field('apple')}`)).toBe(1);
  });

  it('skips a key no document backs, and the worker prunes it', async () => {
    await ingest('mango');
    const key = keys().documentListing(TENANT);
    // A write that failed after listing its document (or a worker killed between the two).
    await stack.redis.zadd(key, 0, `${COLLECTION}\u001fmangled`);
    const listed = await listAll();
    expect(listed).toContain('mango');
    expect(listed).not.toContain('mangled');

    // The page named it a suspect; the worker checks it within its 10 s sync and removes it.
    const deadline = Date.now() + 30_000;
    while ((await stack.redis.zscore(key, `${COLLECTION}\u001fmangled`)) !== null && Date.now() < deadline) {
      await sleep(200);
    }
    expect(await stack.redis.zscore(key, `${COLLECTION}\u001fmangled`)).toBeNull();
    expect(await stack.redis.zscore(key, `${COLLECTION}\u001fmango`)).not.toBeNull();
    expect(await listAll()).toEqual(listed);
  });
});
