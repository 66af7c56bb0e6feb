import * as z from 'zod';
import {
  commonConfig,
  commonEnvRules,
  commonEnvSchema,
  envPositiveInt,
  parseEnv,
  requireEnv,
  type CommonConfig,
  type Env,
} from '@hopper/contracts';

const workerEnvSchema = commonEnvSchema.extend({
  HOPPER_WORKER_CONCURRENCY: envPositiveInt(2),
  /**
   * Ingest jobs run at once per worker. Most of a small document's job is waiting for its group
   * commit, and the commit can only group the documents that are running: at 2, small documents
   * went into the store two at a time; 128 against 32 made commits of ~53 abstracts instead of
   * ~15. What a running job holds is bounded by HOPPER_WORKER_INGEST_MB, not by this count.
   */
  HOPPER_WORKER_INGEST_CONCURRENCY: envPositiveInt(128),
  /**
   * MB of document bodies the running ingest jobs hold at once; a job waits (queued in order)
   * for its body to fit before reading it. Each holds its body, then its chunks and vectors until
   * its commit: a few times the body. A body larger than this runs alone.
   */
  HOPPER_WORKER_INGEST_MB: envPositiveInt(64),
  /** How long SIGTERM waits for running jobs before handing them back to the queue. */
  HOPPER_WORKER_DRAIN_MS: envPositiveInt(25_000),
  /** Prometheus `/metrics` and `/healthz` of the worker; 0 picks a free port. */
  HOPPER_WORKER_METRICS_PORT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(65_535).default(9464),
  ),
  /**
   * Heap of a thread documents are parsed and chunked in, in MB. Every row of issue #20 that
   * completes needs under 300 MB; a document that needs more fails (not retried) saying so.
   * The worker's parse threads hold at most HOPPER_WORKER_PARSE_THREADS times this.
   */
  HOPPER_WORKER_PARSE_HEAP_MB: envPositiveInt(512),
  /**
   * Documents parsed at once, each in its own thread; ingest jobs beyond that wait their turn.
   * Parsing is CPU work: more threads than cores only adds memory.
   */
  HOPPER_WORKER_PARSE_THREADS: envPositiveInt(2),
  /** How long parsing and chunking one document may take before its thread is stopped. */
  HOPPER_WORKER_PARSE_TIMEOUT_MS: envPositiveInt(60_000),
  /**
   * The worker's scheduling priority (Unix nice, 0-19), set on each of its threads at start (the
   * store's thread pools included); threads started later inherit it. Ingestion is background work: on a
   * machine it shares with a gateway (`npm start`), reads should win the CPU when both want it.
   * In a pod of its own it changes nothing. 0 leaves the priority as it is.
   */
  HOPPER_WORKER_NICE: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(19).default(10),
  ),
  /** Where the metrics server listens; `0.0.0.0` in a container so Prometheus can scrape it. */
  HOPPER_WORKER_METRICS_HOST: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().default('127.0.0.1'),
  ),
});

export interface WorkerConfig extends CommonConfig {
  redisUrl: string;
  concurrency: number;
  ingestConcurrency: number;
  /** Bytes of document bodies running ingest jobs hold at once. */
  ingestBytes: number;
  drainMs: number;
  metricsPort: number;
  metricsHost: string;
  nice: number;
  /** Limits of the thread each document is parsed in. */
  parseSandbox: { maxHeapMb: number; timeoutMs: number; threads: number };
}

/** Reads and validates the worker's environment; throws ConfigError listing every problem. */
export function loadConfig(env: Env, cwd = process.cwd()): WorkerConfig {
  const parsed = parseEnv(
    workerEnvSchema,
    env,
    commonEnvRules,
    requireEnv('REDIS_URL', 'for a worker (npm start sets it for the local stack)'),
  );
  return {
    ...commonConfig(parsed, cwd),
    redisUrl: parsed.REDIS_URL ?? '',
    concurrency: parsed.HOPPER_WORKER_CONCURRENCY,
    ingestConcurrency: parsed.HOPPER_WORKER_INGEST_CONCURRENCY,
    ingestBytes: parsed.HOPPER_WORKER_INGEST_MB * 1024 * 1024,
    drainMs: parsed.HOPPER_WORKER_DRAIN_MS,
    metricsPort: parsed.HOPPER_WORKER_METRICS_PORT,
    metricsHost: parsed.HOPPER_WORKER_METRICS_HOST,
    nice: parsed.HOPPER_WORKER_NICE,
    parseSandbox: {
      maxHeapMb: parsed.HOPPER_WORKER_PARSE_HEAP_MB,
      threads: parsed.HOPPER_WORKER_PARSE_THREADS,
      timeoutMs: parsed.HOPPER_WORKER_PARSE_TIMEOUT_MS,
    },
  };
}
