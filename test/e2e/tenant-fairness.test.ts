import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, queueIngest, waitForJobEnd } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { TestStack } from '../support/stack.ts';

/**
 * Workers take turns between tenants: a tenant with a backlog does not make another tenant's job
 * wait behind all of it. One worker running one job at a time, a slow embeddings provider (so the
 * backlog is still there when the second tenant arrives), and the provider's log of what it was
 * asked to embed as the order the jobs ran in.
 */

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const BACKLOG = 10;

let embeddings: EmbeddingsDouble;
let stack: TestStack;

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: {
      ...embeddings.env,
      HOPPER_API_KEYS: `acme:${ACME},globex:${GLOBEX}`,
      HOPPER_WORKER_CONCURRENCY: '1',
      // One ingest at a time, so the order the queue hands jobs out in is the order they run in.
      HOPPER_WORKER_INGEST_CONCURRENCY: '1',
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await embeddings?.stop();
});

function connect(key: string): Promise<Client> {
  return connectModern(stack.url, { requestInit: { headers: { authorization: `Bearer ${key}` } } });
}

it("runs another tenant's jobs next, not after a tenant's whole backlog", { timeout: 60_000 }, async () => {
  // Each job is one chunk, one embedding request of at least 150 ms: queueing the backlog takes far
  // less, so nearly all of it is still waiting when globex queues its two jobs.
  embeddings.delayMs = 150;
  const acme = await connect(ACME);
  const globex = await connect(GLOBEX);
  try {
    const acmeJobs: string[] = [];
    for (let i = 0; i < BACKLOG; i += 1) {
      acmeJobs.push(
        await queueIngest(acme, { content: paragraphsAbout(`acmeword${i}`, 1), documentId: `a-${i}` }),
      );
    }
    const globexJobs = [
      await queueIngest(globex, { content: paragraphsAbout('globexword0', 1), documentId: 'g-0' }),
      await queueIngest(globex, { content: paragraphsAbout('globexword1', 1), documentId: 'g-1' }),
    ];
    for (const job of acmeJobs) expect((await waitForJobEnd(acme, job)).state).toBe('completed');
    for (const job of globexJobs) expect((await waitForJobEnd(globex, job)).state).toBe('completed');

    // The order the worker ran the jobs in, from what it asked the provider to embed.
    const order = embeddings.texts.map((text) => /(acme|globex)word\d+/.exec(text)?.[0]);
    expect(order).toHaveLength(BACKLOG + 2);
    const globexTurns = order.flatMap((word, turn) => (word?.startsWith('globex') ? [turn] : []));
    console.log(`run order: ${order.join(' ')}`);
    // First come, first served would run globex's jobs 11th and 12th. Taking turns runs the first
    // right after the acme job (or two) already running, and the second a turn or two later.
    expect(globexTurns, order.join(' ')).toHaveLength(2);
    expect(globexTurns[1], order.join(' ')).toBeLessThan(6);
    // Within a tenant, jobs still run in the order they were queued.
    const acmeOrder = order.filter((word) => word?.startsWith('acme'));
    expect(acmeOrder).toEqual(Array.from({ length: BACKLOG }, (_, i) => `acmeword${i}`));
  } finally {
    await acme.close();
    await globex.close();
  }
});
