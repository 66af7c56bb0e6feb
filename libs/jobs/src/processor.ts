import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { jobCatalog, type JobKind, type JobPayload, type JobResult, type Keys } from '@hopper/contracts';
import { isRedisUnavailable } from '@hopper/redis';
import { inSpan, withTraceCarrier, type Metrics } from '@hopper/telemetry';
import type { Tracer } from '@opentelemetry/api';
import { clearCancelRequest, isCancelRequested } from './cancel-bus.ts';
import type { JobRecords } from './job-records.ts';
import { ProgressReporter, type ProgressUpdate } from './progress-reporter.ts';

/** Thrown inside a handler when its job was cancelled: an outcome, not a failure. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
}

/**
 * How often a running job reads its cancel flag at most. The broadcast aborts a job's signal as
 * soon as a cancel is asked for; the flag is for a broadcast the worker missed (its subscriber
 * reconnecting), so reading it at every batch boundary (three reads for a one-chunk document) buys
 * nothing but round trips. The job's start always reads it: a cancel can predate the job.
 */
const CANCEL_FLAG_RECHECK_MS = 1_000;

/** The abort reason a worker uses for its own shutdown, as opposed to a user's cancel. */
export const SHUTDOWN_REASON = 'hopper:shutdown';
/** The abort reason the cancel bus uses. */
export const CANCEL_REASON = 'hopper:cancelled';
/** The abort reason for a job whose lock expired: another worker runs it (or will) from the start. */
export const LOCK_LOST_REASON = 'hopper:lock-lost';

/** What a handler gets besides its payload. */
export interface JobContext {
  jobId: string;
  tenant: string;
  signal: AbortSignal;
  progress(update: ProgressUpdate): void;
  /**
   * Throws CancelledError when the job was cancelled: by its signal (the broadcast), or by its flag,
   * read at the job's start and then at most once a second. Call it at batch boundaries.
   */
  throwIfCancelled(): Promise<void>;
  /** Runs one step of the job in its own span (parse, chunk, an embedding batch), in the job's trace. */
  step<T>(name: string, fn: () => Promise<T> | T, attributes?: Record<string, string | number>): Promise<T>;
  logger: Logger;
}

/**
 * A worker's handler for one job kind: its payload and result types are the catalog's schemas, so a
 * handler that returns something else than its kind's result does not compile.
 */
export type JobHandler<K extends JobKind> = (
  payload: JobPayload<K>,
  context: JobContext,
) => Promise<JobResult<K>>;

/**
 * What the processor makes of a failure, decided by the worker (which knows the document, store and
 * embedding errors): the message the job's record shows, and whether another attempt may pass.
 * An `UnrecoverableError` is never retried, whatever `isRetryable` says.
 */
export interface FailurePolicy {
  clientMessage(error: unknown): string;
  isRetryable(error: unknown): boolean;
}

export interface ProcessorDeps {
  redis: Redis;
  keys: Keys;
  records: JobRecords;
  logger: Logger;
  /**
   * Runs after the handler succeeded and before the job is marked completed: whoever learns that
   * the job completed can rely on what this did (the cache epoch bump after a write).
   */
  afterSuccess?: (kind: JobKind, payload: { tenant: string; collection?: string }) => Promise<void>;
  tracer: Tracer;
  metrics: Pick<Metrics, 'jobDuration'>;
  failures: FailurePolicy;
}

/** How a job attempt ended, for the job duration histogram. */
type Outcome = 'completed' | 'failed' | 'cancelled' | 'retry' | 'requeued';

/**
 * Wraps a job handler with Hopper's job lifecycle: the record goes active, progress is throttled,
 * and the outcome lands in the record as completed, failed (no retry left, or not retryable),
 * queued again (a retry is coming), cancelled (never retried) or handed back on shutdown.
 */
export function createProcessor<K extends JobKind>(kind: K, handler: JobHandler<K>, deps: ProcessorDeps) {
  const definition = jobCatalog[kind];
  // The trace context the gateway put in the job data makes this attempt part of the caller's trace.
  // An explicit (job, token, signal): BullMQ passes the AbortSignal only to a processor whose
  // length is 3 or more.
  return (job: Job, token?: string, signal?: AbortSignal): Promise<JobResult<K>> =>
    withTraceCarrier((job.data as { _trace?: Record<string, string> })._trace, () =>
      inSpan(
        deps.tracer,
        `process ${definition.queue}`,
        {
          'messaging.system': 'bullmq',
          'messaging.operation.type': 'process',
          'messaging.destination.name': definition.queue,
          'hopper.job.id': job.id ?? '',
          'hopper.job.kind': kind,
          'hopper.job.attempt': job.attemptsMade + 1,
        },
        () => run(job, token, signal),
      ),
    );

  async function run(job: Job, token?: string, signal?: AbortSignal): Promise<JobResult<K>> {
    const jobId = job.id ?? '';
    const stopTimer = deps.metrics.jobDuration.startTimer({ kind });
    const ended = (outcome: Outcome) => stopTimer({ outcome });
    const parsed = definition.payload.safeParse(job.data);
    if (!parsed.success) {
      // Nothing to record against: without a valid payload we do not even know the tenant.
      throw new UnrecoverableError(`invalid ${kind} payload: ${parsed.error.message}`);
    }
    const payload = parsed.data as JobPayload<K>;
    const tenant = payload.tenant;
    const logger = deps.logger.child({ jobId, kind, tenant });
    const abort = signal ?? new AbortController().signal;
    let flagReadAt = -Infinity;
    const reporter = new ProgressReporter({
      records: deps.records,
      tenant,
      jobId,
      throttle: definition.progress,
      onSent: (progress) => job.updateProgress(progress),
    });
    const context: JobContext = {
      jobId,
      tenant,
      signal: abort,
      logger,
      progress: (update) => reporter.report(update),
      step: (name, fn, attributes = {}) => inSpan(deps.tracer, name, attributes, async () => fn()),
      async throwIfCancelled() {
        if (abort.aborted) throw abortError(abort);
        if (performance.now() - flagReadAt < CANCEL_FLAG_RECHECK_MS) return;
        flagReadAt = performance.now();
        // Best effort while Redis is away: the job needs Redis again only at its end, so a restart
        // of Redis must not throw away the work done; a cancel asked for meanwhile is seen at a
        // later boundary (or through the signal, when its broadcast arrives).
        const flagged = await isCancelRequested(deps.redis, deps.keys, tenant, jobId).catch(
          (error: unknown) => {
            if (isRedisUnavailable(error)) return false;
            throw error;
          },
        );
        if (flagged) throw new CancelledError('cancelled by request');
      },
    };

    const finish = async (update: Parameters<JobRecords['apply']>[1]) => {
      await reporter.flush();
      await deps.records.apply(tenant, update);
    };

    try {
      await context.throwIfCancelled();
      await deps.records.apply(tenant, {
        jobId,
        state: 'active',
        progress: 0,
        stage: 'started',
        ts: Date.now(),
      });
      const result = await handler(payload, context);
      await deps.afterSuccess?.(kind, payload);
      await finish({ jobId, state: 'completed', progress: 1, stage: 'done', ts: Date.now(), result });
      if (abort.aborted && abort.reason === CANCEL_REASON) {
        // The cancel arrived while the new version was being written (the last step, one commit
        // that is not interrupted): the write happened, so the job completed, and says so.
        logger.info({ result }, 'cancel arrived during the final write; the job completed');
      } else logger.info({ result }, 'job completed');
      ended('completed');
      return result;
    } catch (thrown) {
      // An abort surfaces as whatever the interrupted call threw (a fetch AbortError, the reason
      // string): what counts is why the signal fired.
      const error =
        abort.aborted &&
        !(
          thrown instanceof CancelledError ||
          thrown instanceof ShutdownError ||
          thrown instanceof LockLostError
        )
          ? abortError(abort)
          : thrown;
      if (error instanceof LockLostError) {
        // The record and the job belong to the worker that holds the lock now: touch neither.
        logger.warn('job lock lost; left to the worker that holds it');
        ended('requeued');
        throw error;
      }
      if (error instanceof ShutdownError) {
        // Hand the job back so another worker takes it from the start; nothing was written yet.
        await reporter.flush();
        await job.moveToWait(token);
        await deps.records.apply(tenant, {
          jobId,
          state: 'queued',
          progress: 0,
          stage: 'requeued',
          message: 'worker shut down; job returned to the queue',
          ts: Date.now(),
        });
        logger.info('job handed back on shutdown');
        ended('requeued');
        throw new WaitingError();
      }
      if (error instanceof CancelledError) {
        await finish({
          jobId,
          state: 'cancelled',
          // Where the work stopped, rather than 0 as if it never started.
          progress: reporter.progress,
          stage: 'cancelled',
          message: error.message,
          ts: Date.now(),
        });
        await clearCancelRequest(deps.redis, deps.keys, tenant, jobId);
        logger.info('job cancelled');
        ended('cancelled');
        throw new UnrecoverableError('cancelled');
      }
      const message = deps.failures.clientMessage(error);
      const attempts = job.opts.attempts ?? 1;
      const lastAttempt = job.attemptsMade + 1 >= attempts;
      const retryable = !(error instanceof UnrecoverableError) && deps.failures.isRetryable(error);
      if (retryable && !lastAttempt) {
        await finish({
          jobId,
          state: 'queued',
          progress: 0,
          stage: 'retrying',
          message: `attempt ${job.attemptsMade + 1} of ${attempts} failed: ${message}`,
          ts: Date.now(),
        });
        logger.warn({ err: error }, 'job attempt failed; will retry');
        ended('retry');
        throw error;
      }
      await finish({ jobId, state: 'failed', progress: 0, stage: 'failed', error: message, ts: Date.now() });
      // pino's err serializer carries the cause chain: the engine's own words stay in the log.
      logger.warn({ err: error }, 'job failed');
      ended('failed');
      throw new UnrecoverableError(message);
    }
  }
}

/**
 * Records the failure of a job BullMQ failed without running the processor: one that stalled more
 * often than allowed, because the workers holding it died (a document that crashes every worker
 * that takes it). Without this its record would say `active` forever; every other failure is
 * recorded by the processor, so this ignores them.
 */
export async function recordStalledOut(
  job: Job | undefined,
  deps: Pick<ProcessorDeps, 'records' | 'logger'>,
): Promise<void> {
  const tenant = (job?.data as { tenant?: unknown } | undefined)?.tenant;
  if (!job?.deferredFailure || typeof tenant !== 'string') return;
  const jobId = job.id ?? '';
  // Most often the document itself took the workers down (memory, a blocked event loop), so a
  // resubmit would do it again: say so, and what to check, rather than invite one.
  const error =
    `the job stopped ${job.stalledCounter} times because the worker running it stopped responding ` +
    '(crashed, killed or out of memory), and is not retried again. The document likely cannot be ' +
    'processed as it is: check it against the documented limits (size, nesting, pages, inflated ' +
    'size; HOPPER_WORKER_PARSE_HEAP_MB for the parser) and split or simplify it before sending it ' +
    'again. If other documents fail the same way, the workers themselves are unhealthy.';
  try {
    await deps.records.apply(tenant, {
      jobId,
      state: 'failed',
      progress: 0,
      stage: 'failed',
      error,
      ts: Date.now(),
    });
    deps.logger.warn({ jobId, tenant, stalled: job.stalledCounter }, 'job failed: stalled too often');
  } catch (cause) {
    deps.logger.error({ err: cause, jobId, tenant }, 'could not record a stalled job as failed');
  }
}

class ShutdownError extends Error {
  override readonly name = 'ShutdownError';
}

class LockLostError extends Error {
  override readonly name = 'LockLostError';
}

function abortError(signal: AbortSignal): Error {
  if (signal.reason === SHUTDOWN_REASON) return new ShutdownError('worker shutting down');
  if (signal.reason === LOCK_LOST_REASON) return new LockLostError('job lock lost to another worker');
  return new CancelledError('cancelled by request');
}
