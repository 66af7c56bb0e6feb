import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured, waitForJob, type JobOut } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { JobEvents, reportFault, storedChunks } from '../support/faults.ts';
import { TestStack } from '../support/stack.ts';

/*
 * Fault: a worker is killed with SIGKILL while a job is in its embedding stage (an OOM kill, a
 * node lost). Nothing tells the queue; BullMQ finds out when the job's lock expires and another
 * worker's stalled check hands the job over.
 */

const doc = (paragraphs: number) =>
  Array.from({ length: paragraphs }, (_, i) =>
    `Paragraph ${i} records how herons fished the estuary at dawn. `.repeat(14),
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

describe('a worker killed mid-job', () => {
  it('hands the job to another worker, which completes it once, with one version and no duplicate chunks', async () => {
    const doomed = await stack.startWorker();
    // About ten embedding batches of 0.4 s: the job is still embedding when the worker dies.
    embeddings.delayMs = 400;
    const { jobId } = structured<JobOut>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: doc(300), documentId: 'herons', wait: false },
      }),
    );
    const events = await JobEvents.follow(inject('redisUrl'), stack.prefix, jobId);
    await waitForJob(client, jobId, (j) => j.stage === 'embedding');
    await stack.startWorker();
    const killedAt = Date.now();
    await doomed.stop('SIGKILL');
    embeddings.delayMs = 0;

    const done = await waitForJob(client, jobId, (j) => j.state !== 'queued' && j.state !== 'active');
    const completedAt = Date.now();
    expect(done.state).toBe('completed');
    // The rescuer started the job over: its lifecycle began again after the kill.
    const takeover = events.first(killedAt, (e) => e.stage === 'started');
    expect(takeover).toBeDefined();

    const document = structured<{ version: number; chunks: number }>(
      await client.callTool({ name: 'get_document', arguments: { documentId: 'herons' } }),
    );
    const stored = await storedChunks(stack.storeUri, 'herons');
    expect(document.version).toBe(1);
    expect(stored.versions).toEqual([1]);
    expect(stored.rows).toBe(done.result?.chunks);
    expect(stored.distinctIds).toBe(stored.rows);
    expect(events.count('completed')).toBe(1);
    events.close();

    reportFault('worker SIGKILL mid-embedding', {
      'jobs lost': done.state === 'completed' ? 0 : 1,
      'duplicate versions': stored.versions.length - 1,
      'duplicate chunks': stored.rows - stored.distinctIds,
      'takeover ms': (takeover?.at ?? Number.NaN) - killedAt,
      'recovery (kill → completed) ms': completedAt - killedAt,
    });
  });
});
