import { beforeAll, describe, expect, it } from 'vitest';
import {
  connectLegacy,
  getJob as getJobWith,
  queueIngest,
  structured,
  toolError,
  waitForEmbeddingJob,
  waitForJob as waitForJobWith,
  type JobOut,
} from '../support/clients.ts';
import { paragraphsAbout } from '../support/fault-documents.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

interface SearchOut {
  results: { documentId: string; text: string }[];
}

// Two gateway replicas, one worker running one job at a time: a second job stays queued.
const fixture = useStackWithEmbeddings({
  gateways: 2,
  workers: 1,
  env: { HOPPER_WORKER_CONCURRENCY: '1', HOPPER_WORKER_INGEST_CONCURRENCY: '1' },
});

const getJob = (jobId: string) => getJobWith(fixture.client, jobId);
const waitForJob = (jobId: string, predicate: (job: JobOut) => boolean) =>
  waitForJobWith(fixture.client, jobId, predicate);

/** The chunks of the `cancel` collection that name `word` (text search: exact words, no embeddings). */
async function searchFor(word: string): Promise<SearchOut['results']> {
  const out = structured<SearchOut>(
    await fixture.client.callTool({
      name: 'search',
      arguments: { query: word, mode: 'text', topK: 20, collection: 'cancel' },
    }),
  );
  return out.results.filter((r) => r.text.includes(word));
}

/** Starts a slow ingest (v2 of `river`) and resolves once a worker is embedding it. */
async function startSlowIngest(word: string): Promise<string> {
  fixture.embeddings.delayMs = 150;
  const jobId = await queueIngest(fixture.client, {
    content: paragraphsAbout(word, 400),
    documentId: 'river',
    collection: 'cancel',
  });
  await waitForJob(jobId, (job) => job.stage === 'embedding');
  return jobId;
}

describe('cancellation', () => {
  beforeAll(async () => {
    const { embeddings, client } = fixture;
    embeddings.delayMs = 0;
    // Version 1 of the document, which every cancelled re-ingest must leave in place.
    structured(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: paragraphsAbout('kingfisher', 3), documentId: 'river', collection: 'cancel' },
      }),
    );
  });

  async function expectVersionOneIntact(cancelledWord: string) {
    const { client } = fixture;
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
    const { client } = fixture;
    const jobId = await startSlowIngest('heron');
    const reached = (await getJob(jobId)).progress ?? 0;
    expect(reached).toBeGreaterThan(0);
    const cancelled = structured<JobOut>(await client.callTool({ name: 'cancel_job', arguments: { jobId } }));
    // It did cancel: no message saying otherwise.
    expect(cancelled).toEqual({ jobId, state: 'cancelled' });
    const job = await getJob(jobId);
    expect(job.state).toBe('cancelled');
    // The job keeps how far it got rather than dropping to 0, and says why it stopped.
    expect(job.progress).toBeGreaterThanOrEqual(reached);
    expect(job.message).toBe('cancelled by request');
    await expectVersionOneIntact('heron');
  });

  it('a completed job shows no stale progress message, and a late cancel_job says it came too late', async () => {
    const { client, embeddings } = fixture;
    embeddings.delayMs = 0;
    const done = structured<JobOut>(
      await client.callTool(
        {
          name: 'ingest_document',
          arguments: { content: paragraphsAbout('grebe', 120), documentId: 'grebe', collection: 'cancel' },
        },
        { onprogress: () => undefined },
      ),
    );
    expect(done.state).toBe('completed');
    const job = await getJob(done.jobId);
    expect(job).toMatchObject({ state: 'completed', progress: 1 });
    // The embedding stage's "embedded N of M chunks" does not outlive it.
    expect(job.message).toBeUndefined();

    const late = await client.callTool({ name: 'cancel_job', arguments: { jobId: done.jobId } });
    expect(late.isError).toBeFalsy();
    expect(structured<JobOut>(late)).toEqual({
      jobId: done.jobId,
      state: 'completed',
      message: 'too late: the job had already completed, so nothing was cancelled; its outcome stands',
    });
    expect((await getJob(done.jobId)).state).toBe('completed');
  });

  it('cancel_job removes a queued job before it runs', async () => {
    const { embeddings, client } = fixture;
    const running = await startSlowIngest('otter');
    const queued = await queueIngest(client, {
      content: 'A queued note about beavers.',
      documentId: 'beaver',
      collection: 'cancel',
    });
    expect((await getJob(queued)).state).toBe('queued');
    const cancelled = structured<JobOut>(
      await client.callTool({ name: 'cancel_job', arguments: { jobId: queued } }),
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
    expect((await getJob(queued)).state).toBe('cancelled');
    expect(
      toolError(
        await client.callTool({
          name: 'get_document',
          arguments: { documentId: 'beaver', collection: 'cancel' },
        }),
      ),
    ).toMatch(/not found/);
  });

  it('a modern client closing its stream cancels its job', async () => {
    const { embeddings, client } = fixture;
    embeddings.delayMs = 150;
    const controller = new AbortController();
    const call = client
      .callTool(
        {
          name: 'ingest_document',
          arguments: { content: paragraphsAbout('salmon', 400), documentId: 'river', collection: 'cancel' },
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
    const { stack, embeddings, client } = fixture;
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
          arguments: { content: paragraphsAbout('trout', 400), documentId: 'river', collection: 'cancel' },
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
