import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { startRedisServer, type RedisServer } from '@hopper/redis';
import { connectModern, structured } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { eventually } from '../support/faults.ts';
import { TestStack } from '../support/stack.ts';

interface SearchOut {
  results: { documentId: string; text: string }[];
  cached: boolean;
  cacheLayer?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const search = async (client: Client, args: Record<string, unknown>) =>
  structured<SearchOut>(await client.callTool({ name: 'search', arguments: args }));

const ingest = async (client: Client, args: Record<string, unknown>) =>
  structured<{ state: string; jobId: string }>(
    await client.callTool({ name: 'ingest_document', arguments: args }),
  );

describe('result cache across two gateways', () => {
  let stack: TestStack;
  let embeddings: EmbeddingsDouble;
  let a: Client;
  let b: Client;

  beforeAll(async () => {
    embeddings = await EmbeddingsDouble.start();
    stack = await TestStack.start({ redisUrl: inject('redisUrl'), gateways: 2, env: embeddings.env });
    a = await connectModern(stack.gateways[0]!.url);
    b = await connectModern(stack.gateways[1]!.url);
    await ingest(a, {
      content: 'Giraffes browse acacia leaves on the savanna.',
      documentId: 'giraffe',
      collection: 'zoo',
    });
    // Let the warming this write triggers pass, so it cannot fill a cache behind a test's back.
    await warmedAfterLastWrite();
  });

  /** Waits for the 'cache warmed' log of the zoo collection at its current epoch, and returns it. */
  async function warmedAfterLastWrite(): Promise<string> {
    const epoch = Number(await stack.redis.get(`${stack.prefix}:t:local:epoch:zoo`));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const lines = stack.gateways.flatMap((g) => g.lines);
      const done = lines.find(
        (l) =>
          l.includes('cache warmed') && l.includes('"collection":"zoo"') && l.includes(`"epoch":${epoch},`),
      );
      if (done) return done;
      if (Date.now() > deadline) {
        const interesting = lines.filter((l) => !l.includes('"level":30,') || l.includes('warm'));
        throw new Error(`no warming at epoch ${epoch}; gateway logs:\n${interesting.slice(-30).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await stack?.stop();
    await embeddings?.stop();
  });

  it('serves a repeated search from L1 on the same gateway and from L2 on the other', async () => {
    const args = { query: 'acacia leaves', collection: 'zoo', topK: 3 };
    const entries = () => stack.cachedResults('search');
    const before = (await entries()).length;
    const first = await search(a, args);
    expect(first.cached).toBe(false);
    expect(first.results[0]?.documentId).toBe('giraffe');
    // A answers before its write to the shared cache lands (it goes out just after): wait for it.
    await eventually(async () => ((await entries()).length > before ? true : undefined));
    const again = await search(a, args);
    expect(again).toMatchObject({ cached: true, cacheLayer: 'l1' });
    expect(again.results).toEqual(first.results);
    const other = await search(b, { topK: 3, collection: 'zoo', query: 'acacia leaves' });
    expect(other).toMatchObject({ cached: true, cacheLayer: 'l2' });
    // Same arguments in another order and with the default made explicit are the same entry.
    const reordered = await search(b, { collection: 'zoo', query: 'acacia leaves', topK: 3 });
    expect(reordered).toMatchObject({ cached: true, cacheLayer: 'l1' });
  });

  it('reflects an ingest and a delete at once, on both gateways', async () => {
    const args = { query: 'zebra stripes', collection: 'zoo', topK: 5 };
    for (const client of [a, b]) {
      await search(client, args);
      expect((await search(client, args)).cached).toBe(true);
    }
    await ingest(a, {
      content: 'Zebra stripes confuse biting flies.',
      documentId: 'zebra',
      collection: 'zoo',
    });
    for (const client of [a, b]) {
      const after = await search(client, args);
      expect(after.results[0]?.documentId).toBe('zebra');
    }
    const doc = structured<{ cached: boolean }>(
      await b.callTool({ name: 'get_document', arguments: { documentId: 'zebra', collection: 'zoo' } }),
    );
    expect(doc.cached).toBe(false);

    structured(
      await b.callTool({ name: 'delete_document', arguments: { documentId: 'zebra', collection: 'zoo' } }),
    );
    for (const client of [a, b]) {
      const after = await search(client, args);
      expect(after.results.map((r) => r.documentId)).not.toContain('zebra');
      const gone = await client.callTool({
        name: 'get_document',
        arguments: { documentId: 'zebra', collection: 'zoo' },
      });
      expect(gone.isError).toBe(true);
    }
  });

  it('caches finished jobs but never a job still running', async () => {
    const done = await ingest(a, { content: 'Okapis are shy.', documentId: 'okapi', collection: 'zoo' });
    const cachedJobs = () => stack.cachedResults('get_job');
    const cachedBefore = (await cachedJobs()).length;
    const first = structured<{ cached: boolean; state: string }>(
      await a.callTool({ name: 'get_job', arguments: { jobId: done.jobId } }),
    );
    expect(first).toMatchObject({ state: 'completed', cached: false });
    // A answers before its write to the shared cache lands (it goes out just after the answer):
    // wait until it has, then B must answer from it without computing.
    await eventually(async () => ((await cachedJobs()).length > cachedBefore ? true : undefined));
    const second = structured<{ cached: boolean }>(
      await b.callTool({ name: 'get_job', arguments: { jobId: done.jobId } }),
    );
    expect(second.cached).toBe(true);

    embeddings.delayMs = 200;
    const slow = await ingest(a, {
      content: Array.from({ length: 80 }, (_, i) => `Paragraph ${i} on lions. `.repeat(40)).join('\n\n'),
      documentId: 'lions',
      collection: 'zoo',
      wait: false,
    });
    const running = [];
    for (let i = 0; i < 3; i++) {
      running.push(
        structured<{ cached: boolean }>(
          await a.callTool({ name: 'get_job', arguments: { jobId: slow.jobId } }),
        ),
      );
    }
    expect(running.every((j) => j.cached === false)).toBe(true);
    embeddings.delayMs = 0;
    // Leave no work running behind: later tests count provider calls.
    structured(await a.callTool({ name: 'cancel_job', arguments: { jobId: slow.jobId } }));
  });

  it('never answers get_job with the earlier end of an ingest sent again after it was cancelled', async () => {
    const job = (client: Client, jobId: string) =>
      client
        .callTool({ name: 'get_job', arguments: { jobId } })
        .then((r) => structured<{ cached: boolean; state: string }>(r));
    const args = {
      content: Array.from({ length: 80 }, (_, i) => `Paragraph ${i} on zebras. `.repeat(40)).join('\n\n'),
      documentId: 'zebras',
      collection: 'zoo',
    };
    embeddings.delayMs = 200;
    const first = await ingest(a, { ...args, wait: false });
    structured(await a.callTool({ name: 'cancel_job', arguments: { jobId: first.jobId } }));
    const deadline = Date.now() + 30_000;
    while ((await job(a, first.jobId)).state !== 'cancelled' && Date.now() < deadline) await sleep(50);
    embeddings.delayMs = 0;
    // The cancelled end, cached on both gateways (L1 on each, L2 between them).
    await job(a, first.jobId);
    expect(await job(a, first.jobId)).toMatchObject({ state: 'cancelled', cached: true });
    expect(await job(b, first.jobId)).toMatchObject({ state: 'cancelled', cached: true });

    // The same ingest again runs again under the same id: from its acknowledgement on, no gateway
    // says it was cancelled.
    const again = await ingest(a, args);
    expect(again).toMatchObject({ jobId: first.jobId, state: 'completed' });
    expect(await job(a, first.jobId)).toMatchObject({ state: 'completed' });
    expect(await job(b, first.jobId)).toMatchObject({ state: 'completed' });
    expect(await job(b, first.jobId)).toMatchObject({ state: 'completed', cached: true });
  });

  it('computes a burst of identical uncached searches once, across both gateways', async () => {
    const query = 'burst of identical questions about flamingos';
    const before = embeddings.texts.filter((t) => t === query).length;
    const calls = Array.from({ length: 20 }, (_, i) => search(i % 2 ? a : b, { query, collection: 'zoo' }));
    const results = await Promise.all(calls);
    // One computation reached the embedding provider; everyone got its answer.
    expect(embeddings.texts.filter((t) => t === query).length - before).toBe(1);
    for (const result of results) expect(result.results).toEqual(results[0]!.results);
    // The other gateway waited for the first one's answer in L2 instead of computing its own.
    expect(results.some((r) => r.cacheLayer === 'l2')).toBe(true);
  });

  it('embeds only the texts it has not seen, and re-embeds only the changed chunks of a re-ingest', async () => {
    await b.callTool({ name: 'embed_texts', arguments: { texts: ['alpha text', 'beta text'] } });
    const before = embeddings.texts.length;
    const out = structured<{ embeddings: number[][] }>(
      await a.callTool({
        name: 'embed_texts',
        arguments: { texts: ['alpha text', 'beta text', 'gamma text'] },
      }),
    );
    expect(out.embeddings).toHaveLength(3);
    expect(embeddings.texts.slice(before)).toEqual(['gamma text']);

    const paragraphs = Array.from({ length: 30 }, (_, i) =>
      `Section ${i} tells of elephants and their memory. `.repeat(20),
    );
    await ingest(a, { content: paragraphs.join('\n\n'), documentId: 'elephants', collection: 'zoo' });
    const afterFirst = embeddings.texts.length;
    paragraphs[7] = 'A rewritten section about elephant calves learning to use their trunks. '.repeat(20);
    await ingest(a, { content: paragraphs.join('\n\n'), documentId: 'elephants', collection: 'zoo' });
    const reembedded = embeddings.texts.length - afterFirst;
    expect(reembedded).toBeGreaterThan(0);
    expect(reembedded).toBeLessThanOrEqual(3);
  });

  it('warms the most frequent searches after a write, so the next caller hits the cache', async () => {
    const popular = { query: 'penguins huddle for warmth', collection: 'zoo' };
    for (let i = 0; i < 5; i++) await search(a, popular);
    await ingest(b, {
      content: 'Emperor penguins huddle for warmth in winter.',
      documentId: 'penguin',
      collection: 'zoo',
    });
    // The write bumped the collection's epoch; one gateway warms the collection at that epoch.
    expect(await warmedAfterLastWrite()).not.toContain('"warmed":0');
    const next = await search(b, popular);
    expect(next.cached).toBe(true);
    expect(next.results[0]?.documentId).toBe('penguin');
  });
});

describe('cache TTL', () => {
  let stack: TestStack;
  let client: Client;

  beforeAll(async () => {
    stack = await TestStack.start({
      redisUrl: inject('redisUrl'),
      env: { HOPPER_CACHE_TTL_SEARCH_S: '1', HOPPER_CACHE_L1_TTL_MS: '300', HOPPER_CACHE_WARM_TOP: '0' },
    });
    client = await connectModern(stack.url);
    await ingest(client, { content: 'Hourglasses measure time with sand.', documentId: 'hourglass' });
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('forgets an entry once its TTL has passed', async () => {
    const args = { query: 'sand hourglass' };
    await search(client, args);
    expect((await search(client, args)).cached).toBe(true);
    const start = Date.now();
    let result = await search(client, args);
    while (result.cached) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      result = await search(client, args);
    }
    expect(Date.now() - start).toBeGreaterThanOrEqual(300);
    expect(result.results[0]?.documentId).toBe('hourglass');
  });
});

describe('cache outage', () => {
  let cacheDir: string;
  let cacheRedis: RedisServer;
  let stack: TestStack;
  let client: Client;

  beforeAll(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'hopper-cache-redis-'));
    cacheRedis = await startRedisServer({ dir: cacheDir, appendOnly: false });
    stack = await TestStack.start({
      redisUrl: inject('redisUrl'),
      env: { HOPPER_CACHE_REDIS_URL: cacheRedis.url },
    });
    client = await connectModern(stack.url);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    await cacheRedis?.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('keeps every tool working while the cache Redis is down', async () => {
    await ingest(client, { content: 'Barometers predict storms.', documentId: 'barometer' });
    await search(client, { query: 'storm barometer' });
    expect((await search(client, { query: 'storm barometer' })).cached).toBe(true);

    await cacheRedis.stop();
    for (let i = 0; i < 10; i++) {
      const result = await search(client, { query: `storm barometer ${i}` });
      expect(result.cached).toBe(false);
      expect(result.results[0]?.documentId).toBe('barometer');
    }
    const written = await ingest(client, { content: 'Anemometers measure wind.', documentId: 'anemometer' });
    expect(written.state).toBe('completed');
    const found = await search(client, { query: 'wind anemometer' });
    expect(found.results[0]?.documentId).toBe('anemometer');
    const doc = structured<{ documentId: string }>(
      await client.callTool({ name: 'get_document', arguments: { documentId: 'anemometer' } }),
    );
    expect(doc.documentId).toBe('anemometer');
    expect(stack.gateways[0]!.lines.some((l) => l.includes('answering without the cache'))).toBe(true);
  });
});
