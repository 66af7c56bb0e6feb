import { describe, expect, inject, it } from 'vitest';
import { queueIngest, structured, waitForJob, waitForJobEnd } from '../support/clients.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { JobEvents, reportFault, storedChunks } from '../support/faults.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

/*
 * Fault: a worker is killed with SIGKILL while a job is in its embedding stage (an OOM kill, a
 * node lost). Nothing tells the queue; BullMQ finds out when the job's lock expires and another
 * worker's stalled check hands the job over.
 */

const fixture = useStackWithEmbeddings({ workers: 0 });

describe('a worker killed mid-job', () => {
  it('hands the job to another worker, which completes it once, with one version and no duplicate chunks', async () => {
    const { stack, embeddings, client } = fixture;
    const doomed = await stack.startWorker();
    // About ten embedding batches of 0.4 s: the job is still embedding when the worker dies.
    embeddings.delayMs = 400;
    const jobId = await queueIngest(client, { content: paragraphsAbout('heron', 300), documentId: 'herons' });
    const events = await JobEvents.follow(inject('redisUrl'), stack.prefix, jobId);
    await waitForJob(client, jobId, (j) => j.stage === 'embedding');
    await stack.startWorker();
    const killedAt = Date.now();
    await doomed.stop('SIGKILL');
    embeddings.delayMs = 0;

    const done = await waitForJobEnd(client, jobId);
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
