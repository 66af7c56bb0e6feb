import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { createKeys, jobCatalog } from '@hopper/contracts';
import { startRedisServer, type RedisServer } from '@hopper/redis';
import {
  connectModern,
  queueIngest,
  structured,
  toolError,
  waitForJob,
  waitForJobEnd,
  type JobOut,
} from './clients.ts';
import { EmbeddingsDouble } from './embeddings-double.ts';
import { paragraphsAbout } from './fault-documents.ts';
import { eventually, reportFault, storedChunks } from './faults.ts';
import { TestStack } from './stack.ts';

/*
 * Fault: Redis (queue, job records, progress bus) is killed with SIGKILL while ingests are queued
 * and running, and comes back `outageMs` later on the same port from its append-only file. Nothing
 * accepted before the crash may be lost or done twice; gateways and workers reconnect on their
 * own; /readyz says not ready while Redis is away; clients keep following their jobs.
 */

const JOBS = 6;

export function redisOutageScenario(label: string, outageMs: number): void {
  let dir: string;
  let redis: RedisServer;
  let stack: TestStack;
  let embeddings: EmbeddingsDouble;
  let client: Client;

  /** This test's own Redis: every write on disk before it is acknowledged, so a SIGKILL loses none. */
  const startRedis = (port?: number) =>
    startRedisServer({ dir, appendOnly: true, appendFsync: 'always', ...(port ? { port } : {}) });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hopper-faults-redis-'));
    redis = await startRedis();
    embeddings = await EmbeddingsDouble.start();
    stack = await TestStack.start({ redisUrl: redis.url, gateways: 1, workers: 2, env: embeddings.env });
    client = await connectModern(stack.url);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop().catch(() => undefined);
    await embeddings?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function readyStatus(): Promise<number> {
    return (await fetch(stack.url.replace('/mcp', '/readyz'))).status;
  }

  async function killRedis(): Promise<void> {
    const exited = new Promise((resolve) => redis.process.once('exit', resolve));
    redis.process.kill('SIGKILL');
    await exited;
  }

  /** Queues an ingest per document id without waiting; returns the job ids. */
  async function submit(documentIds: string[]): Promise<string[]> {
    const jobIds: string[] = [];
    for (const documentId of documentIds) {
      jobIds.push(await queueIngest(client, { content: paragraphsAbout(documentId, 80), documentId }));
    }
    return jobIds;
  }

  /** The ingest queue as BullMQ sees it (its connection waits out the outage like the workers'). */
  function openQueue(): { queue: Queue; close: () => Promise<void> } {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    const queue = new Queue(jobCatalog.ingest.queue, {
      connection,
      prefix: createKeys(stack.prefix).bullPrefix,
    });
    // Refused connections during the outage are expected; BullMQ would print each one.
    queue.on('error', () => undefined);
    return {
      queue,
      close: async () => {
        await queue.close();
        connection.disconnect();
      },
    };
  }

  /**
   * Waits until BullMQ itself is done with every job (the record may say completed while the queue
   * still holds a run whose lock was lost, to be run again), and returns the jobs.
   */
  async function settled(queue: Queue, jobIds: string[]): Promise<{ state: string; reruns: number }[]> {
    return Promise.all(
      jobIds.map((jobId) =>
        eventually(async () => {
          const job = await queue.getJob(jobId);
          const state = job && (await job.getState());
          if (!job || (state !== 'completed' && state !== 'failed')) return undefined;
          return { state, reruns: job.stalledCounter + Math.max(0, job.attemptsMade - 1) };
        }, 100),
      ),
    );
  }

  describe(`Redis killed mid-ingest and restarted ${label}`, () => {
    it('loses no job, does none twice, and every process reconnects on its own', async () => {
      // Batches of 0.3 s: with two workers of two slots, some jobs run and some wait at the crash.
      embeddings.delayMs = 300;
      const documentIds = Array.from({ length: JOBS }, (_, i) => `buoy-${i}`);
      const jobIds = await submit(documentIds);
      // One more client waits on its ingest through the whole outage.
      const waiter = await connectModern(stack.url);
      let watching!: () => void;
      const waitingStarted = new Promise<void>((resolve) => (watching = resolve));
      const waiting = waiter.callTool(
        {
          name: 'ingest_document',
          arguments: { content: paragraphsAbout('buoy-w', 80), documentId: 'buoy-w' },
        },
        { onprogress: () => watching(), timeout: 120_000 },
      );
      await waitForJob(client, jobIds[0] ?? '', (j) => j.stage === 'embedding');
      // Its job is accepted and its call is waiting (the first progress came) before Redis goes.
      await waitingStarted;
      const { jobs } = structured<{ jobs: JobOut[] }>(
        await client.callTool({ name: 'list_jobs', arguments: {} }),
      );
      const waitingJobId = jobs.find((job) => job.documentId === 'buoy-w')?.jobId ?? '';
      const { queue, close: closeQueue } = openQueue();

      const killedAt = Date.now();
      await killRedis();
      await eventually(async () => ((await readyStatus()) === 503 ? true : undefined));
      const notReadyAt = Date.now();
      // A client asking meanwhile gets the job if Redis is back by the time its call gets through,
      // or is told to come back: never an internal error, never a hang.
      const askedAt = Date.now();
      const probe = client
        .callTool({ name: 'get_job', arguments: { jobId: waitingJobId } })
        .then((result) => ({ result, at: Date.now() }));
      // Jobs go on embedding without Redis meanwhile.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, killedAt + outageMs - Date.now())));

      redis = await startRedis(redis.port);
      const restartedAt = Date.now();
      await eventually(async () => ((await readyStatus()) === 200 ? true : undefined));
      const readyAt = Date.now();
      const asked = await probe;
      if ((asked.result as { isError?: boolean }).isError) {
        expect(toolError(asked.result)).toMatch(/cannot reach Redis .* try again/);
      } else {
        expect(structured<JobOut>(asked.result).jobId).toBe(waitingJobId);
      }

      const outcomes = await Promise.all(jobIds.map((jobId) => waitForJobEnd(client, jobId)));
      const waited = structured<JobOut & { chunks?: number }>(await waiting);
      const allDoneAt = Date.now();
      await waiter.close();
      expect(outcomes.map((job) => job.state)).toEqual(Array(JOBS).fill('completed'));
      expect(waited).toMatchObject({ state: 'completed', documentId: 'buoy-w' });
      const queued = await settled(queue, [...jobIds, waitingJobId]);
      await closeQueue();
      expect(queued.map((job) => job.state)).toEqual(Array(JOBS + 1).fill('completed'));

      let duplicateVersions = 0;
      let duplicateChunks = 0;
      const expectedChunks = [...outcomes.map((job) => job.result?.chunks), waited.chunks];
      for (const [i, documentId] of [...documentIds, 'buoy-w'].entries()) {
        const stored = await storedChunks(stack.storeUri, documentId);
        duplicateVersions += stored.versions.length - 1;
        duplicateChunks += stored.rows - stored.distinctIds;
        expect(stored.versions).toEqual([1]);
        expect(stored.rows).toBe(expectedChunks[i]);
      }

      reportFault(`Redis SIGKILL, restarted from AOF ${label}`, {
        'jobs lost': outcomes.filter((job) => job.state !== 'completed').length,
        'duplicate versions': duplicateVersions,
        'duplicate chunks': duplicateChunks,
        'jobs run again': queued.filter((job) => job.reruns > 0).length,
        'outage ms': restartedAt - killedAt,
        'kill → /readyz 503 ms': notReadyAt - killedAt,
        'get_job asked during outage answered in ms': asked.at - askedAt,
        'restart → /readyz 200 ms': readyAt - restartedAt,
        'restart → all jobs completed ms': allDoneAt - restartedAt,
      });
    });
  });
}
