import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { createKeys, jobCatalog } from '@hopper/contracts';
import { startRedisServer, type RedisServer } from '@hopper/redis';
import { copyCorpus, type Corpus } from './corpus/corpus.ts';
import { startNode, track, type NodeProcess } from '@hopper/harness';

const appEntry = (app: string) => fileURLToPath(new URL(`../../../${app}/src/main.ts`, import.meta.url));
const PREFIX = 'hopper';

/** An ingest job as the queue kept it. */
export interface FinishedIngest {
  failed: boolean;
  chunks: number;
  /** Picked up by a worker to finished. */
  workerMs: number;
}

/** The bench's own Hopper: what `npm start` runs, with each process's id at hand. */
export interface HopperStack {
  mcpUrl: string;
  gateway: NodeProcess;
  workers: NodeProcess[];
  redis: RedisServer;
  /** The store directory (a copy of the corpus). */
  storeDir: string;
  /** Starts another gateway on the same Redis and store (e.g. with tracing on). */
  startGateway(env?: Record<string, string>): Promise<NodeProcess>;
  /** Replaces the gateway with a fresh one (`mcpUrl` and `gateway` change). */
  restartGateway(): Promise<void>;
  /** Holds ingest jobs in the queue (workers take none) until `resumeIngest`. */
  pauseIngest(): Promise<void>;
  /** Drops every queued ingest job and lets workers take jobs again. */
  discardQueuedIngests(): Promise<void>;
  resumeIngest(): Promise<void>;
  /** Commands the stack's Redis has run since it started (`INFO commandstats`, summed). */
  redisCommands(): Promise<number>;
  /** Ingest jobs finished (completed or failed) so far. */
  finishedIngestCount(): Promise<number>;
  /** Finished ingest jobs of documents whose id starts with `prefix`. */
  finishedIngests(prefix: string): Promise<FinishedIngest[]>;
  stop(): Promise<void>;
}

/**
 * Starts what `npm start` starts (a private redis-server with its append-only file on, one
 * gateway, one worker, each its own process, on the default settings) on a copy of the corpus.
 * The launcher itself is not used: the bench samples each process's CPU and memory, so it needs
 * their ids, and it starts a second gateway for the tracing comparison. Variables that would
 * change what is measured (HOPPER_*, OTEL_*, REDIS_URL) are not passed on from the shell.
 */
export async function startHopperStack(
  corpus: Corpus | undefined,
  options: {
    workers?: number;
    cpuProfileDir?: string;
    defaultLimits?: boolean;
    /** Added to every gateway's environment (an A/B switch). */
    gatewayEnv?: Record<string, string>;
    /** Added to every worker's environment (an A/B switch). */
    workerEnv?: Record<string, string>;
  } = {},
): Promise<HopperStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hopper-bench-'));
  const storeDir = join(dataDir, 'store');
  // Without a corpus the store starts empty, as a new user's does.
  if (corpus) await copyCorpus(corpus, storeDir);
  const redis = await startRedisServer({ dir: join(dataDir, 'redis'), appendOnly: true });
  track(redis.process);
  const env = {
    ...cleanEnvironment(),
    REDIS_URL: redis.url,
    HOPPER_REDIS_PREFIX: PREFIX,
    HOPPER_DATA_DIR: dataDir,
    HOPPER_PORT: '0',
    HOPPER_WORKER_METRICS_PORT: '0',
    // The acknowledge scenarios queue thousands of jobs faster than one worker drains them; the
    // job-slot and queue-depth limits would refuse the throughput scenario that follows. The bench
    // measures speed, not those limits (their tests are in test/e2e/limits.test.ts). Scenarios that
    // ingest as a user does keep them.
    ...(options.defaultLimits ? {} : { HOPPER_MAX_JOBS_PER_TENANT: '0', HOPPER_MAX_QUEUE_DEPTH: '0' }),
  };
  const started: NodeProcess[] = [];
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(jobCatalog.ingest.queue, { connection, prefix: createKeys(PREFIX).bullPrefix });

  // `--cpu-prof` writes the profile when the process exits, which it does when the stack stops it.
  const profiling = options.cpuProfileDir
    ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${options.cpuProfileDir}` }
    : {};
  const startGateway = async (extra: Record<string, string> = {}) => {
    const gateway = await startNode('gateway', appEntry('gateway'), {
      env: { ...env, ...profiling, ...options.gatewayEnv, ...extra },
      isReady: (line) => line.includes('gateway listening'),
    });
    started.push(gateway);
    return gateway;
  };
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
    await queue.close();
    connection.disconnect();
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const gateway = await startGateway();
    const workers: NodeProcess[] = [];
    for (let i = 0; i < (options.workers ?? 1); i++) {
      const worker = await startNode('worker', appEntry('worker'), {
        env: { ...env, ...options.workerEnv },
        isReady: (line) => line.includes('worker ready'),
      });
      started.push(worker);
      workers.push(worker);
    }
    const stack: HopperStack = {
      mcpUrl: urlOf(gateway),
      gateway,
      workers,
      redis,
      storeDir,
      startGateway,
      async restartGateway() {
        await stack.gateway.stop();
        stack.gateway = await startGateway();
        stack.mcpUrl = urlOf(stack.gateway);
      },
      redisCommands: async () => {
        const info = await connection.info('commandstats');
        let calls = 0;
        for (const match of info.matchAll(/calls=(\d+)/g)) calls += Number(match[1]);
        return calls;
      },
      pauseIngest: () => queue.pause(),
      resumeIngest: () => queue.resume(),
      async discardQueuedIngests() {
        await queue.drain();
      },
      async finishedIngestCount() {
        const counts = await queue.getJobCounts('completed', 'failed');
        return (counts.completed ?? 0) + (counts.failed ?? 0);
      },
      async finishedIngests(prefix) {
        const ofPrefix = (job: Job) =>
          String((job.data as { documentId?: unknown }).documentId).startsWith(prefix);
        const view = (job: Job, failed: boolean): FinishedIngest => ({
          failed,
          chunks: Number((job.returnvalue as { chunks?: number } | null)?.chunks ?? 0),
          workerMs: (job.finishedOn ?? 0) - (job.processedOn ?? 0),
        });
        const completed = (await queue.getJobs(['completed'], 0, -1)).filter(ofPrefix);
        const failed = (await queue.getJobs(['failed'], 0, -1)).filter(ofPrefix);
        return [...completed.map((job) => view(job, false)), ...failed.map((job) => view(job, true))];
      },
      stop,
    };
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

const urlOf = (gateway: NodeProcess) => (JSON.parse(gateway.readyLine) as { url: string }).url;

/** The shell's environment without the variables that configure Hopper. */
export function cleanEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined &&
        !entry[0].startsWith('HOPPER_') &&
        !entry[0].startsWith('OTEL_') &&
        entry[0] !== 'REDIS_URL',
    ),
  );
}
