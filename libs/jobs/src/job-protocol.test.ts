import { trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jobCatalog, type ProgressEvent } from '@hopper/contracts';
import { closeRedis, createRedis } from '@hopper/redis';
import { createMetrics } from '@hopper/telemetry';
import type { Redis } from 'ioredis';
import { useTestRedis } from '../../../test/support/test-redis.ts';
import { JobRecords } from './job-records.ts';
import { jobResult } from './job-results.ts';
import { JobsService } from './jobs-service.ts';
import { getPayload, packVectors, putPayload, unpackTexts } from './payloads.ts';
import { JobWorkers } from './job-workers.ts';
import { createProcessor, type JobHandler } from './processor.ts';
import { closeQueues, createQueues } from './queues.ts';
import { ProgressSubscriber } from './progress-subscriber.ts';

/**
 * The job protocol in one process: a JobsService submitting, a BullMQ worker running the processor
 * around an embed handler (in JobWorkers, with the cancel bus), both on the suite's redis-server, as
 * the gateway and the worker wire them. The process-level tests (test/e2e) run the same flows through real gateways and workers.
 */
const { keys, redis } = useTestRedis();
const tenant = 't1';
const onError = () => undefined;
/** Cleanups, run last first: the worker before the queues, the queues before their connections. */
const closers: (() => Promise<unknown>)[] = [];
let jobs: JobsService;
let records: JobRecords;

/**
 * An ingest handler whose first run of document `again` holds until the test lets it go, then
 * fails; every other run succeeds.
 */
let ingestRuns = 0;
let releaseFirstRun!: () => void;
const firstRunReleased = new Promise<void>((resolve) => (releaseFirstRun = resolve));
const ingestAgain: JobHandler<'ingest'> = async (payload) => {
  ingestRuns += 1;
  if (ingestRuns === 1) {
    await firstRunReleased;
    throw new Error('the first run fails');
  }
  return {
    documentId: payload.documentId,
    collection: payload.collection,
    version: 1,
    chunks: 1,
    model: 'm',
  };
};

/**
 * An embed handler that reports progress after every text, and holds at a text `hold` until its
 * signal fires (a cancel), so a test can cancel it while it runs.
 */
const embedTexts: JobHandler<'embed'> = async (payload, context) => {
  const body = await getPayload(redis(), keys.payload(payload.tenant, context.jobId));
  if (!body) throw new Error('no payload');
  const texts = unpackTexts(body);
  const vectors: Float32Array[] = [];
  for (const [i, text] of texts.entries()) {
    await context.throwIfCancelled();
    if (text === 'hold') {
      if (!context.signal.aborted) {
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
      }
      await context.throwIfCancelled();
    }
    vectors.push(Float32Array.of(i, text.length));
    context.progress({
      progress: (i + 1) / texts.length,
      stage: 'embedding',
      current: i + 1,
      total: texts.length,
    });
  }
  await context.throwIfCancelled();
  await putPayload(redis(), keys.embedOutput(payload.tenant, context.jobId), packVectors(vectors));
  return { model: 'test-model', dimensions: 2, count: vectors.length };
};

beforeAll(async () => {
  const url = inject('redisUrl');
  const connect = (role: 'subscriber' | 'bullmq'): Redis => {
    const connection = createRedis(url, { name: `jobs-test-${role}`, role, onError });
    closers.push(() => closeRedis(connection));
    return connection;
  };
  records = new JobRecords(redis(), keys);
  const progress = new ProgressSubscriber(connect('subscriber'), records, keys);
  closers.push(() => Promise.resolve(progress.close()));
  const queues = createQueues(connect('bullmq'), keys);
  closers.push(() => closeQueues(queues));
  // Nothing here is ingested: no document has a current version.
  jobs = new JobsService({
    redis: redis(),
    keys,
    records,
    queues,
    progress,
    documents: { getDocument: () => Promise.resolve(undefined) },
  });

  const logger = pino({ level: 'silent' });
  const processorDeps = {
    redis: redis(),
    keys,
    records,
    logger,
    tracer: trace.getTracer('jobs-test'),
    metrics: createMetrics('worker'),
    failures: { clientMessage: (error: unknown) => String(error), isRetryable: () => false },
  };
  const processor = createProcessor('embed', embedTexts, processorDeps);
  const ingest = createProcessor('ingest', ingestAgain, processorDeps);
  const queueProcessors = [
    { queue: jobCatalog.embed.queue, processor, concurrency: 2 },
    { queue: jobCatalog.ingest.queue, processor: ingest, concurrency: 2 },
  ];
  const workers = new JobWorkers(queueProcessors, {
    connection: connect('bullmq'),
    keys,
    records,
    logger,
    lockDurationMs: 10_000,
    stalledIntervalMs: 5_000,
  });
  closers.push(() => workers.close(0));
  await workers.start(connect('subscriber'));
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('the job protocol, in process', () => {
  it('submits a job, runs it with progress, and hands its typed result to the waiting caller', async () => {
    const jobId = await jobs.submitEmbed(tenant, ['alpha', 'beta', 'gamma']);
    const events: ProgressEvent[] = [];
    const view = await jobs.waitForJob(tenant, jobId, {
      timeoutMs: 30_000,
      onProgress: (e) => events.push(e),
    });

    expect(view).toMatchObject({ jobId, kind: 'embed', state: 'completed', progress: 1 });
    expect(jobResult('embed', view)).toEqual({ model: 'test-model', dimensions: 2, count: 3 });
    expect(events.some((e) => e.state === 'progress' && e.stage === 'embedding')).toBe(true);
    expect(events.at(-1)?.state).toBe('completed');
    expect(await jobs.takeEmbedOutput(tenant, jobId, 3)).toEqual([
      [0, 5],
      [1, 4],
      [2, 5],
    ]);
  });

  it('cancels a running job: the worker stops at its next step and the waiting caller sees it cancelled', async () => {
    const jobId = await jobs.submitEmbed(tenant, ['alpha', 'hold', 'gamma', 'delta']);
    let running!: () => void;
    const started = new Promise<void>((resolve) => (running = resolve));
    const waiting = jobs.waitForJob(tenant, jobId, {
      timeoutMs: 30_000,
      onProgress: (event) => {
        if (event.state === 'progress') running();
      },
    });
    await started;

    const { job, reason } = await jobs.cancel(tenant, jobId);
    expect(reason).toBeUndefined();
    expect(job.state).toBe('cancelled');
    const view = await waiting;
    // It keeps the progress it made before the cancel: the first of four texts.
    expect(view).toMatchObject({ state: 'cancelled', progress: 0.25, stage: 'cancelled' });
    expect(jobResult('embed', view)).toBeUndefined();
    expect((await jobs.cancel(tenant, jobId)).reason).toBe('the job was already cancelled');
  });

  it('cancels a job no worker took yet without running it, and a caller who goes away cancels its job', async () => {
    // Nothing works the maintenance queue in this test: the delete stays queued.
    const queued = await jobs.submitDelete(tenant, 'docs', 'd1');
    const caller = new AbortController();
    // A wait longer than the test: only the caller going away can end it.
    const following = jobs.follow(tenant, queued, { timeoutMs: 10 * 60_000, callerGone: caller.signal });
    caller.abort();
    expect(await following).toMatchObject({
      jobId: queued,
      state: 'cancelled',
      message: 'cancelled before it started',
    });
    expect(await redis().exists(keys.cancelFlag(tenant, queued), keys.payload(tenant, queued))).toBe(0);
  });

  it('runs an ingest again when it is sent again while its failed run is still leaving the worker', async () => {
    const payload = {
      tenant,
      collection: 'c',
      documentId: 'again',
      metadata: {},
      contentHash: 'h1',
      encoding: 'text' as const,
    };
    const first = await jobs.submitIngest(payload, 'body');
    await expect.poll(() => ingestRuns, { timeout: 10_000 }).toBe(1);
    // The worker records a failed run's outcome, then BullMQ moves the job out of its active set.
    // Between the two, the job's record says failed while BullMQ still holds the job: a caller
    // who sends the document again then must get a new run, not an entry BullMQ ignores.
    await records.apply(tenant, {
      jobId: first.jobId,
      state: 'failed',
      progress: 0,
      ts: Date.now(),
      error: 'x',
    });
    const again = jobs.submitIngest(payload, 'body');
    setTimeout(releaseFirstRun, 200);
    expect(await again).toMatchObject({ jobId: first.jobId, deduplicated: false });

    const view = await jobs.waitForJob(tenant, first.jobId, { timeoutMs: 15_000 });
    expect(view.state).toBe('completed');
    expect(ingestRuns).toBe(2);
  });
});
