import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured, waitForJob, type JobOut } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { JobEvents, eventually, reportFault } from '../support/faults.ts';
import { TestStack } from '../support/stack.ts';

/*
 * Fault: every worker that takes a job dies with it (a document that crashes its worker, a node
 * pool being torn down). The queue gives the job one second chance (BullMQ's maxStalledCount 1);
 * after the second crash the job must end `failed` with a reason, not stay `active` for ever.
 */

const doc = (paragraphs: number) =>
  Array.from({ length: paragraphs }, (_, i) =>
    `Paragraph ${i} lists the tide tables kept at the old pier. `.repeat(14),
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

describe('a job whose workers keep dying', () => {
  it('fails with a clear reason after its second crash instead of staying active', async () => {
    let holder = await stack.startWorker();
    // Slow enough (about 6 s of embedding per attempt) that each kill lands mid-job even on a busy machine.
    embeddings.delayMs = 2_000;
    const { jobId } = structured<JobOut>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: doc(300), documentId: 'tides', wait: false },
      }),
    );
    const events = await JobEvents.follow(inject('redisUrl'), stack.prefix, jobId);
    await waitForJob(client, jobId, (j) => j.stage === 'embedding');

    // First crash: the next worker takes the job over; then it dies as well.
    const next = await stack.startWorker();
    const firstKill = Date.now();
    await holder.stop('SIGKILL');
    holder = next;
    await eventually(() => Promise.resolve(events.first(firstKill, (e) => e.stage === 'embedding')));
    const last = await stack.startWorker();
    const secondKill = Date.now();
    await holder.stop('SIGKILL');

    const done = await waitForJob(client, jobId, (j) => j.state !== 'queued' && j.state !== 'active');
    const failedAt = Date.now();
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/interrupted 2 times .* submit it again/);
    expect(events.count('failed')).toBe(1);
    events.close();

    // The workers are fine now: submitting the document again completes it.
    embeddings.delayMs = 0;
    const again = structured<JobOut>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: doc(300), documentId: 'tides' },
      }),
    );
    expect(again).toMatchObject({ state: 'completed', documentId: 'tides' });
    await last.stop();

    reportFault('worker SIGKILL twice (crash loop)', {
      outcome: done.state,
      'second kill → failed ms': failedAt - secondKill,
    });
  });
});
