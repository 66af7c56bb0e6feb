import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  connectLegacy,
  connectModern,
  getJob as getJobWith,
  structured,
  waitForEmbeddingJob,
  waitForJob as waitForJobWith,
  type JobOut,
} from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { TestStack } from '../support/stack.ts';

interface SearchOut {
  results: { documentId: string; text: string }[];
}

/** A document of ~`paragraphs` chunks, each naming `word`, so a search can tell versions apart. */
function bigDocument(word: string, paragraphs: number): string {
  return Array.from({ length: paragraphs }, (_, i) =>
    `Paragraph ${i} mentions ${word} among ordinary words about rivers, hills and weather. `.repeat(14),
  ).join('\n\n');
}

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let client: Client;

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  // Two gateway replicas, one worker running one job at a time: a second job stays queued.
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    gateways: 2,
    workers: 1,
    env: { ...embeddings.env, HOPPER_WORKER_CONCURRENCY: '1' },
  });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await embeddings?.stop();
});

const getJob = (jobId: string) => getJobWith(client, jobId);
const waitForJob = (jobId: string, predicate: (job: JobOut) => boolean) =>
  waitForJobWith(client, jobId, predicate);

async function searchFor(word: string): Promise<SearchOut['results']> {
  const out = structured<SearchOut>(
    await client.callTool({
      name: 'search',
      arguments: { query: `${word} mentions`, topK: 20, collection: 'cancel' },
    }),
  );
  return out.results.filter((r) => r.text.includes(word));
}

/** Starts a slow ingest (v2 of `river`) and resolves once a worker is embedding it. */
async function startSlowIngest(word: string): Promise<string> {
  embeddings.delayMs = 150;
  const handle = structured<JobOut>(
    await client.callTool({
      name: 'ingest_document',
      arguments: { content: bigDocument(word, 300), documentId: 'river', collection: 'cancel', wait: false },
    }),
  );
  await waitForJob(handle.jobId, (job) => job.stage === 'embedding');
  return handle.jobId;
}

describe('cancellation', () => {
  beforeAll(async () => {
    embeddings.delayMs = 0;
    // Version 1 of the document, which every cancelled re-ingest must leave in place.
    structured(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: bigDocument('kingfisher', 3), documentId: 'river', collection: 'cancel' },
      }),
    );
  });

  async function expectVersionOneIntact(cancelledWord: string) {
    expect((await searchFor('kingfisher')).length).toBeGreaterThan(0);
    expect(await searchFor(cancelledWord)).toEqual([]);
    const doc = structured<{ version: number }>(
      await client.callTool({
        name: 'get_document',
        arguments: { documentId: 'river', collection: 'cancel' },
      }),
    );
    expect(doc.version).toBe(1);
  }

  it('cancel_job stops an active job; the previous version stays searchable', async () => {
    const jobId = await startSlowIngest('heron');
    const cancelled = structured<JobOut>(await client.callTool({ name: 'cancel_job', arguments: { jobId } }));
    expect(cancelled.state).toBe('cancelled');
    expect((await getJob(jobId)).state).toBe('cancelled');
    await expectVersionOneIntact('heron');
  });

  it('cancel_job removes a queued job before it runs', async () => {
    const running = await startSlowIngest('otter');
    const queued = structured<JobOut>(
      await client.callTool({
        name: 'ingest_document',
        arguments: {
          content: 'A queued note about beavers.',
          documentId: 'beaver',
          collection: 'cancel',
          wait: false,
        },
      }),
    );
    expect((await getJob(queued.jobId)).state).toBe('queued');
    const cancelled = structured<JobOut>(
      await client.callTool({ name: 'cancel_job', arguments: { jobId: queued.jobId } }),
    );
    expect(cancelled.state).toBe('cancelled');
    structured(await client.callTool({ name: 'cancel_job', arguments: { jobId: running } }));
    embeddings.delayMs = 0;
    // Cancelled for good: the worker never picks it up, and it is not retried.
    const probe = structured<JobOut>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'probe', documentId: 'probe', collection: 'cancel' },
      }),
    );
    expect(probe.state).toBe('completed');
    expect((await getJob(queued.jobId)).state).toBe('cancelled');
    expect(
      toolErrorText(
        await client.callTool({
          name: 'get_document',
          arguments: { documentId: 'beaver', collection: 'cancel' },
        }),
      ),
    ).toMatch(/not found/);
  });

  it('a modern client closing its stream cancels its job', async () => {
    embeddings.delayMs = 150;
    const controller = new AbortController();
    const call = client
      .callTool(
        {
          name: 'ingest_document',
          arguments: { content: bigDocument('salmon', 300), documentId: 'river', collection: 'cancel' },
        },
        { signal: controller.signal, onprogress: () => undefined },
      )
      .catch((error: unknown) => error);
    // Find the job through list_jobs, as another client would, and wait until it is embedding.
    const jobId = await waitForEmbeddingJob(client, 'river');
    controller.abort();
    expect(await call).toBeInstanceOf(Error);
    const job = await waitForJob(jobId, (j) => j.state !== 'active');
    expect(job.state).toBe('cancelled');
    await expectVersionOneIntact('salmon');
  });

  it('a legacy notifications/cancelled reaching another gateway replica cancels the job', async () => {
    const [gatewayA, gatewayB] = stack.gateways;
    // A load balancer in miniature: the cancel notification goes to replica B, everything else to A.
    let cancelsSentToB = 0;
    const routed: typeof fetch = async (input, init) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      if (body.includes('"notifications/cancelled"')) {
        cancelsSentToB += 1;
        const url = input instanceof Request ? input.url : input.toString();
        return fetch(url.replace(gatewayA!.url, gatewayB!.url), init);
      }
      return fetch(input, init);
    };
    const legacy = await connectLegacy(gatewayA!.url, { fetch: routed });
    embeddings.delayMs = 150;
    const controller = new AbortController();
    const call = legacy
      .callTool(
        {
          name: 'ingest_document',
          arguments: { content: bigDocument('trout', 300), documentId: 'river', collection: 'cancel' },
        },
        undefined,
        { signal: controller.signal, onprogress: () => undefined },
      )
      .catch((error: unknown) => error);
    const jobId = await waitForEmbeddingJob(client, 'river');
    controller.abort();
    expect(await call).toBeInstanceOf(Error);
    const job = await waitForJob(jobId, (j) => j.state !== 'active');
    expect(cancelsSentToB).toBe(1);
    expect(job.state).toBe('cancelled');
    // Replica B found the waiting call's job through Redis and cancelled it.
    expect(gatewayB!.lines.some((line) => line.includes('legacy client cancelled its request'))).toBe(true);
    await expectVersionOneIntact('trout');
    await legacy.close();
  });
});

function toolErrorText(result: unknown): string {
  const r = result as { isError?: boolean; content?: { text?: string }[] };
  return r.isError ? (r.content?.map((c) => c.text).join(' ') ?? '') : '';
}
