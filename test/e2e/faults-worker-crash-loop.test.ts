import { describe, expect, inject, it } from 'vitest';
import { queueIngest, structured, waitForJob, waitForJobEnd, type JobOut } from '../support/clients.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { JobEvents, eventually, reportFault } from '../support/faults.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

/*
 * Fault: every worker that takes a job dies with it (a document that crashes its worker, a node
 * pool being torn down). The queue gives the job one second chance (BullMQ's maxStalledCount 1);
 * after the second crash the job must end `failed` with a reason, not stay `active` for ever.
 */

const fixture = useStackWithEmbeddings({ workers: 0 });

describe('a job whose workers keep dying', () => {
  it('fails with a clear reason after its second crash instead of staying active', async () => {
    const { stack, embeddings, client } = fixture;
    let holder = await stack.startWorker();
    // Slow enough (about 6 s of embedding per attempt) that each kill lands mid-job even on a busy machine.
    embeddings.delayMs = 2_000;
    const jobId = await queueIngest(client, { content: paragraphsAbout('tide', 300), documentId: 'tides' });
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

    const done = await waitForJobEnd(client, jobId);
    const failedAt = Date.now();
    expect(done.state).toBe('failed');
    // The reason says what to check, and does not invite the resubmit that would crash the
    // workers again when the document is what kills them.
    expect(done.error).toMatch(/stopped 2 times .* likely cannot be processed .* limits/);
    expect(done.error).not.toMatch(/submit it again/);
    expect(events.count('failed')).toBe(1);
    events.close();

    // The workers are fine now: submitting the document again completes it.
    embeddings.delayMs = 0;
    const again = structured<JobOut>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('tide', 300), documentId: 'tides' },
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
