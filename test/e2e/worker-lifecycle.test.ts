import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, getJob, structured, waitForJob, type JobOut } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { TestStack } from '../support/stack.ts';

const doc = (paragraphs: number) =>
  Array.from({ length: paragraphs }, (_, i) =>
    `Section ${i} describes the migration of cranes over marshland. `.repeat(15),
  ).join('\n\n');

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let client: Client;

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({ redisUrl: inject('redisUrl'), workers: 0, env: embeddings.env });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await embeddings?.stop();
});

const job = (jobId: string) => getJob(client, jobId);
const until = (jobId: string, predicate: (j: JobOut) => boolean) => waitForJob(client, jobId, predicate);

async function ingest(documentId: string, paragraphs: number): Promise<string> {
  const out = structured<JobOut>(
    await client.callTool({
      name: 'ingest_document',
      arguments: { content: doc(paragraphs), documentId, wait: false },
    }),
  );
  return out.jobId;
}

describe('worker SIGTERM', () => {
  it('finishes the running job when it fits in the drain budget', async () => {
    const worker = await stack.startWorker();
    embeddings.delayMs = 100;
    const jobId = await ingest('short', 100);
    await until(jobId, (j) => j.stage === 'embedding');
    expect(await worker.stop('SIGTERM')).toBe(0);
    const done = await job(jobId);
    expect(done.state).toBe('completed');
    expect(done.result?.version).toBe(1);
  });

  it('hands a long job back to the queue, and another worker completes it exactly once', async () => {
    const worker = await stack.startWorker({ HOPPER_WORKER_DRAIN_MS: '200' });
    embeddings.delayMs = 150;
    const jobId = await ingest('long', 300);
    await until(jobId, (j) => j.stage === 'embedding');
    expect(await worker.stop('SIGTERM')).toBe(0);
    const handedBack = await job(jobId);
    expect(handedBack).toMatchObject({ state: 'queued', stage: 'requeued' });

    embeddings.delayMs = 0;
    await stack.startWorker();
    const done = await until(jobId, (j) => j.state !== 'queued' && j.state !== 'active');
    expect(done.state).toBe('completed');
    const document = structured<{ version: number; chunks: number }>(
      await client.callTool({ name: 'get_document', arguments: { documentId: 'long' } }),
    );
    expect(document.version).toBe(1);
    expect(document.chunks).toBe(done.result?.chunks);
  });
});
