import { Worker, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import { listenForCancels } from './cancel-bus.ts';
import type { JobRecords } from './job-records.ts';
import { CANCEL_REASON, LOCK_LOST_REASON, SHUTDOWN_REASON, recordStalledOut } from './processor.ts';

/** One queue's processor (see createProcessor) and how many of its jobs a process runs at once. */
export interface QueueProcessor {
  queue: string;
  processor: Processor;
  concurrency: number;
}

export interface JobWorkersOptions {
  /** BullMQ's connection (role `bullmq`): its blocking calls never share the command connection. */
  connection: Redis;
  keys: Keys;
  records: JobRecords;
  logger: Logger;
  /** How long a job's lock lives; BullMQ renews it every half of that while the job runs. */
  lockDurationMs: number;
  /** How often this process looks for jobs whose worker died (their lock expired). */
  stalledIntervalMs: number;
}

/**
 * A worker process's BullMQ workers, one per queue, with what Hopper does around them: a cancel
 * heard on the cancel bus aborts the job in whichever worker holds it; a job whose lock could not
 * be renewed is stopped (it is another worker's now); a job BullMQ failed for stalling too often is
 * recorded failed; and closing drains the running jobs within a budget, then hands the rest back.
 */
export class JobWorkers {
  readonly #workers: Worker[];
  readonly #keys: Keys;
  readonly #logger: Logger;
  /** Jobs this process is running, for the drain's log line (the launcher shows it on Ctrl-C). */
  #running = 0;

  constructor(processors: readonly QueueProcessor[], options: JobWorkersOptions) {
    this.#keys = options.keys;
    this.#logger = options.logger;
    const { logger } = options;
    this.#workers = processors.map(({ queue, processor, concurrency }) => {
      const worker = new Worker(queue, this.#counted(processor), {
        connection: options.connection,
        prefix: options.keys.bullPrefix,
        concurrency,
        autorun: false,
        lockDuration: options.lockDurationMs,
        stalledInterval: options.stalledIntervalMs,
      });
      worker.on('error', (error) => logger.error({ err: error, queue }, 'queue worker error'));
      // A lock that could not be renewed has expired: the job is another worker's now (or will be
      // after the next stalled check). Stop it here rather than write a second version.
      worker.on('lockRenewalFailed', (jobIds) => {
        for (const jobId of jobIds) {
          if (worker.cancelJob(jobId, LOCK_LOST_REASON))
            logger.warn({ jobId, queue }, 'lost the job lock; stopping');
        }
      });
      // BullMQ fails a job that stalled too often without running our processor: record the outcome.
      worker.on('failed', (job) => void recordStalledOut(job, options));
      return worker;
    });
  }

  /**
   * Listens for cancels on `subscriber` (a dedicated connection: once subscribed it runs nothing
   * else), then starts taking jobs; resolves once every worker is connected.
   */
  async start(subscriber: Redis): Promise<void> {
    await listenForCancels(subscriber, this.#keys, ({ jobId }) => {
      for (const worker of this.#workers) {
        if (worker.cancelJob(jobId, CANCEL_REASON)) this.#logger.info({ jobId }, 'cancelling active job');
      }
    });
    for (const worker of this.#workers) void worker.run();
    await Promise.all(this.#workers.map((worker) => worker.waitUntilReady()));
  }

  /** Stops taking jobs and lets running ones finish; past `drainMs`, hands them back to the queue. */
  async close(drainMs: number): Promise<void> {
    this.#logger.info({ running: this.#running, drainMs }, 'draining running jobs');
    const drained = Promise.all(this.#workers.map((worker) => worker.close()));
    const timer = setTimeout(() => {
      this.#logger.warn({ drainMs }, 'drain budget spent; handing running jobs back to the queue');
      for (const worker of this.#workers) worker.cancelAllJobs(SHUTDOWN_REASON);
    }, drainMs);
    try {
      await drained;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Counts the jobs running. Three named parameters: BullMQ passes the AbortSignal (cancel, drain)
   * only to a processor whose `length` is 3 or more; a rest parameter has length 0 and would lose it.
   */
  #counted(processor: Processor): Processor {
    return async (job, token, signal) => {
      this.#running += 1;
      try {
        return (await processor(job, token, signal)) as unknown;
      } finally {
        this.#running -= 1;
      }
    };
  }
}
