import { describe, expect, it } from 'vitest';
import { connectModern, getJob, waitForEmbeddingJob, waitForJobEnd } from '../support/clients.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { reportFault, storedChunks } from '../support/faults.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

/*
 * Fault: the gateway a client is waiting on dies (SIGKILL: no drain, no handle handed back). The
 * job lives in the queue, not in the gateway, so it goes on; the client reconnects (to another
 * replica or to the restarted one) and follows it with get_job.
 */

const fixture = useStackWithEmbeddings({ gateways: 2, workers: 1 });

describe('a gateway killed while a client waits on ingest_document', () => {
  it('leaves the job running; the client finds it completed through another gateway and the restarted one', async () => {
    // The fixture's client is on the first gateway, which stays up: it watches the job.
    const { stack, embeddings, client: observer } = fixture;
    const doomed = stack.gateways[1];
    if (!doomed) throw new Error('the stack has no second gateway');
    const client = await connectModern(doomed.url);
    // About ten embedding batches of 0.3 s: the call is still waiting when its gateway dies.
    embeddings.delayMs = 300;
    const call = client
      .callTool(
        {
          name: 'ingest_document',
          arguments: { content: paragraphsAbout('ferry', 300), documentId: 'ferry' },
        },
        // A cut response stream leaves the SDK's request pending until its own timeout
        // (typescript-sdk#2739), so the client does what a careful one does: it gives up when
        // progress stops for 3 s.
        { onprogress: () => undefined, timeout: 3_000, resetTimeoutOnProgress: true },
      )
      .then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
    const jobId = await waitForEmbeddingJob(observer, 'ferry');

    const killedAt = Date.now();
    await doomed.stop('SIGKILL');
    // The waiting call ends with an error (its progress stopped), not with a made-up result.
    const outcome = await call;
    const callEndedAt = Date.now();
    expect('error' in outcome).toBe(true);
    await client.close().catch(() => undefined);

    // A new connection to the surviving replica sees the job still running on the worker.
    const elsewhere = await connectModern(stack.url);
    const found = await getJob(elsewhere, jobId);
    const foundAt = Date.now();
    expect(['active', 'completed']).toContain(found.state);

    // The gateway comes back (a pod restarted in place); a client there sees the same job.
    const restarted = await stack.startGateway();
    const back = await connectModern(restarted.url);
    const restartedAt = Date.now();
    embeddings.delayMs = 0;
    const done = await waitForJobEnd(back, jobId);
    const completedAt = Date.now();
    expect(done).toMatchObject({ state: 'completed', documentId: 'ferry' });
    expect(await getJob(elsewhere, jobId)).toMatchObject({ state: 'completed', result: done.result });

    const stored = await storedChunks(stack.storeUri, 'ferry');
    expect(stored.versions).toEqual([1]);
    expect(stored.rows).toBe(done.result?.chunks);
    await Promise.all([elsewhere.close(), back.close()]);

    reportFault('gateway SIGKILL during a waiting ingest', {
      'jobs lost': done.state === 'completed' ? 0 : 1,
      'duplicate versions': stored.versions.length - 1,
      'kill → call errors ms': callEndedAt - killedAt,
      'kill → job found via other gateway ms': foundAt - killedAt,
      'gateway restart ms': restartedAt - foundAt,
      'kill → completed ms': completedAt - killedAt,
    });
  });
});
