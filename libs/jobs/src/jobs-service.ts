import type { Redis } from 'ioredis';
import {
  HopperError,
  busy,
  ingestJobId,
  isHopperError,
  isTerminal,
  jobCatalog,
  notFound,
  randomJobId,
  type BatchEntry,
  type IngestPayload,
  type JobKind,
  type JobPayload,
  type JobState,
  type JobView,
  type Keys,
  type ListJobsInput,
  type ListJobsOutput,
  type ProgressEvent,
} from '@hopper/contracts';
import type { Logger } from '@hopper/lifecycle';
import { releaseOwned } from '@hopper/redis';
import { currentTraceCarrier, inSpan } from '@hopper/telemetry';
import { trace, type Tracer } from '@opentelemetry/api';
import { clearCancelRequest, publishCancel, requestCancel } from './cancel-bus.ts';
import type { JobRecords, NewJob } from './job-records.ts';
import { deletePayload, getPayload, packTexts, putPayload, unpackVectors } from './payloads.ts';
import type { ProgressSubscriber } from './progress-subscriber.ts';
import { QueueBacklog } from './queue-backlog.ts';
import type { Queues } from './queues.ts';

/** How long `cancel_job` waits for a running job to stop before answering with its current state. */
const CANCEL_WAIT_MS = 10_000;
/** Finished BullMQ jobs are kept this long: completed ingests so the same ingest stays one job. */
const KEEP_FINISHED_SECONDS = 7 * 24 * 60 * 60;
/** When a caller refused by a full queue is told to try again: long enough for workers to make room. */
const QUEUE_FULL_RETRY_AFTER_S = 5;

/**
 * The documents' current versions, as far as jobs need them: whether an ingest already done is
 * still the document's current version. The store passes as it is; libs/jobs does not depend on it.
 */
/**
 * How long a re-run waits for the previous run of its job id to leave BullMQ's active set (see
 * removeEndedRun): the moment between a worker recording the outcome and BullMQ moving the job,
 * well inside the enqueue lock's 10 s.
 */
const ENDED_RUN_WAIT_MS = 3_000;

export interface DocumentVersions {
  getDocument(
    tenant: string,
    collection: string,
    documentId: string,
  ): Promise<{ contentHash: string } | undefined>;
}

/** Limits on new ingest and embed jobs; 0 turns one off. Deletes are never refused. */
export interface JobLimits {
  /** Jobs one tenant may have queued or running. */
  maxJobsPerTenant: number;
  /** Jobs waiting in a queue beyond which it takes no more. */
  maxQueueDepth: number;
}

/** Which limit refused a job, for the metrics. */
export type JobRefusal = 'tenant_jobs' | 'queue_depth';

export interface SubmittedJob {
  jobId: string;
  state: JobView['state'];
  /** True when an identical job already existed and no new work was queued. */
  deduplicated: boolean;
  /** The job as recorded, when an identical ingest had already completed (its result included). */
  finished?: JobView;
}

export interface WaitOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  onProgress?: (event: ProgressEvent) => void;
}

export interface FollowOptions extends WaitOptions {
  /**
   * Fires when the caller is gone (a modern MCP client closed its stream): the job is cancelled,
   * since nobody is left to receive its result. `signal` alone (a gateway shutting down) only ends
   * the wait: the job goes on.
   */
  callerGone: AbortSignal;
}

/**
 * The gateway's side of jobs: enqueue from the catalog, read the records, wait with progress and
 * cancel from any replica. Everything it knows is in Redis, so any gateway can serve any job.
 */
export class JobsService {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #records: JobRecords;
  readonly #queues: Queues;
  readonly #progress: ProgressSubscriber;
  readonly #documents: DocumentVersions;
  readonly #logger: Logger | undefined;
  readonly #tracer: Tracer;
  readonly #limits: JobLimits;
  readonly #backlogs: Record<'ingest' | 'batch' | 'embed', QueueBacklog>;
  readonly #onRefused: (limit: JobRefusal) => void;
  readonly #onRerun: (tenant: string, jobId: string) => Promise<void>;

  constructor(deps: {
    /** Spans for enqueueing; the API's no-op tracer when tracing is not set up. */
    tracer?: Tracer;
    redis: Redis;
    keys: Keys;
    records: JobRecords;
    queues: Queues;
    progress: ProgressSubscriber;
    /** The store, for "is this ingest still the document's current version". */
    documents: DocumentVersions;
    logger?: Logger;
    limits?: JobLimits;
    onRefused?: (limit: JobRefusal) => void;
    /**
     * Told, before the submit is acknowledged, that an ingest job id whose earlier run ended runs
     * again (the gateway's result cache keys a finished job by its run: Epochs.bumpJobRun).
     */
    onRerun?: (tenant: string, jobId: string) => Promise<void>;
  }) {
    this.#redis = deps.redis;
    this.#keys = deps.keys;
    this.#records = deps.records;
    this.#queues = deps.queues;
    this.#progress = deps.progress;
    this.#documents = deps.documents;
    this.#logger = deps.logger;
    this.#tracer = deps.tracer ?? trace.getTracer('hopper-gateway');
    this.#limits = deps.limits ?? { maxJobsPerTenant: 0, maxQueueDepth: 0 };
    this.#onRerun = deps.onRerun ?? (() => Promise.resolve());
    this.#backlogs = {
      ingest: new QueueBacklog(deps.queues.ingest),
      batch: new QueueBacklog(deps.queues.batch),
      embed: new QueueBacklog(deps.queues.embed),
    };
    this.#onRefused = deps.onRefused ?? (() => undefined);
  }

  /**
   * Queues an ingest unless the same one (tenant, collection, document and fingerprint: content,
   * media type, title, metadata, chunking) is queued, running, or done and still the document's
   * current version: then that job is returned.
   */
  async submitIngest(payload: IngestPayload, body: string | Buffer): Promise<SubmittedJob> {
    const { tenant } = payload;
    const jobId = ingestJobId(tenant, payload.collection, payload.documentId, payload.contentHash);
    const read = () => this.#records.get(tenant, jobId);
    return this.#withEnqueueLock(tenant, jobId, read, async (existing) => {
      const current = await this.#sameIngest(jobId, existing, payload);
      if (current) return current;
      // New, or a re-run after failure, cancellation, deletion or a newer version: start afresh.
      // The body, the cancel flag of an earlier run and that run's queue entry are independent, so
      // they go out together (one round trip); the record comes next, and the job last, so a worker
      // never takes a job without its record and body.
      await this.#checkBacklog('ingest');
      // A re-run is announced first (`onRerun`: the cache forgets the earlier run's end).
      await Promise.all([
        putPayload(this.#redis, this.#keys.payload(tenant, jobId), body),
        clearCancelRequest(this.#redis, this.#keys, tenant, jobId),
        this.#removeEndedRun('ingest', jobId),
        existing ? this.#onRerun(tenant, jobId) : undefined,
      ]);
      const place = await this.#record(
        tenant,
        jobId,
        { kind: 'ingest', documentId: payload.documentId, collection: payload.collection },
        { reset: true },
      );
      await this.#enqueue('ingest', jobId, payload, place);
      return { jobId, state: 'queued', deduplicated: false };
    });
  }

  /**
   * The job of an ingest that would be answered as a duplicate (see submitIngest), looked up without
   * the body or the enqueue lock: a caller that has only the content hash so far (a file streamed
   * through the hash) can skip holding the body when the answer is already known. `undefined`: it
   * must be submitted.
   */
  async findIngest(
    payload: Pick<IngestPayload, 'tenant' | 'collection' | 'documentId' | 'contentHash'>,
  ): Promise<SubmittedJob | undefined> {
    const jobId = ingestJobId(payload.tenant, payload.collection, payload.documentId, payload.contentHash);
    return this.#sameIngest(jobId, await this.#records.get(payload.tenant, jobId), payload);
  }

  /** The job already standing for this ingest: queued or running, or completed and still current. */
  async #sameIngest(
    jobId: string,
    existing: JobView | undefined,
    payload: Pick<IngestPayload, 'tenant' | 'collection' | 'documentId' | 'contentHash'>,
  ): Promise<SubmittedJob | undefined> {
    // A record whose job never reached the queue (Redis went away between the two writes) is not
    // a job to wait for: without this check every later submit would wait on it for ever.
    if (
      existing &&
      (existing.state === 'queued' || existing.state === 'active') &&
      (await this.#queues.ingest.getJob(jobId))
    ) {
      return { jobId, state: existing.state, deduplicated: true };
    }
    if (existing?.state === 'completed') {
      // The stored version carries the fingerprint of the ingest that wrote it (see
      // ingestFingerprint), so this is "the document is what this ingest would make it".
      const current = await this.#documents.getDocument(
        payload.tenant,
        payload.collection,
        payload.documentId,
      );
      if (current?.contentHash === payload.contentHash)
        return { jobId, state: 'completed', deduplicated: true, finished: existing };
    }
    return undefined;
  }

  /**
   * Queues a batch ingest: one job, one of the tenant's job slots, whatever the number of documents.
   * The documents travel through the payload key (see batchEntry), in the order given.
   */
  async submitBatch(tenant: string, collection: string, entries: readonly BatchEntry[]): Promise<string> {
    const jobId = randomJobId('bat');
    await this.#checkBacklog('batch');
    await putPayload(this.#redis, this.#keys.payload(tenant, jobId), JSON.stringify(entries));
    const place = await this.#record(tenant, jobId, { kind: 'batch', collection });
    await this.#enqueue('batch', jobId, { tenant, collection, count: entries.length }, place);
    return jobId;
  }

  /** Queues a large embedding batch; the texts travel through a payload key. */
  async submitEmbed(tenant: string, texts: readonly string[]): Promise<string> {
    const jobId = randomJobId('emb');
    await this.#checkBacklog('embed');
    await putPayload(this.#redis, this.#keys.payload(tenant, jobId), packTexts(texts));
    const place = await this.#record(tenant, jobId, { kind: 'embed' });
    await this.#enqueue('embed', jobId, { tenant, count: texts.length }, place);
    return jobId;
  }

  /** Reads a finished embed job's vectors (and deletes them: they are handed out once). */
  async takeEmbedOutput(tenant: string, jobId: string, count: number): Promise<number[][]> {
    const key = this.#keys.embedOutput(tenant, jobId);
    const bytes = await getPayload(this.#redis, key);
    if (!bytes) throw new HopperError('internal', `the vectors of job '${jobId}' are no longer available`);
    await deletePayload(this.#redis, key);
    return unpackVectors(bytes, count);
  }

  /**
   * Reads a finished embed job's vectors without taking them, for its task (`tasks/get` and
   * `notifications/tasks` show the result as often as they are asked); `undefined` once they
   * expired (PAYLOAD_TTL_SECONDS after the job ended).
   */
  async readEmbedOutput(tenant: string, jobId: string, count: number): Promise<number[][] | undefined> {
    const bytes = await getPayload(this.#redis, this.#keys.embedOutput(tenant, jobId));
    return bytes ? unpackVectors(bytes, count) : undefined;
  }

  async submitDelete(tenant: string, collection: string, documentId: string): Promise<string> {
    const jobId = randomJobId('del');
    const place = await this.#records.create(tenant, jobId, { kind: 'delete', documentId, collection });
    await this.#enqueue('delete', jobId, { tenant, collection, documentId }, place);
    return jobId;
  }

  async get(tenant: string, jobId: string): Promise<JobView> {
    const view = await this.#records.get(tenant, jobId);
    if (!view) throw notFound('job', jobId);
    return view;
  }

  async list(tenant: string, input: ListJobsInput): Promise<ListJobsOutput> {
    try {
      return await this.#records.list(tenant, {
        limit: input.limit,
        ...(input.state ? { state: input.state } : {}),
        ...(input.cursor ? { cursor: input.cursor } : {}),
      });
    } catch (error) {
      if (error instanceof RangeError) throw new HopperError('invalid_argument', error.message);
      throw error;
    }
  }

  /**
   * Cancels a job from any replica. A job still in the queue is removed and marked cancelled here;
   * a running one is flagged and broadcast to the workers, and this call waits (bounded) until the
   * worker holding it has stopped. A finished job is left as it is, and the outcome says the cancel
   * came too late; so does a job that completed anyway (the cancel arrived during its final write).
   */
  async cancel(tenant: string, jobId: string): Promise<CancelOutcome> {
    const started = await this.requestCancel(tenant, jobId);
    if (started !== 'signalled') return started;
    const after = await this.waitForJob(tenant, jobId, { timeoutMs: CANCEL_WAIT_MS });
    if (after.state === 'completed' || after.state === 'failed') {
      return {
        job: after,
        reason: `too late: the job ${after.state} before the cancel reached it (it was in its final write); its outcome stands`,
      };
    }
    if (!isTerminal(after.state)) {
      return {
        job: after,
        reason: `not yet stopped after ${CANCEL_WAIT_MS / 1000} s: the job stops at its next step; follow it with get_job`,
      };
    }
    return { job: after };
  }

  /**
   * The part of {@link cancel} that does not wait for a worker: a queued job is removed and marked
   * cancelled (its outcome is returned), a finished one is left as it is (likewise), and a running
   * one is flagged and broadcast to the workers (`'signalled'`: the worker holding it stops at its
   * next step, and its record says `cancelled` then). An unknown job, or another tenant's, is
   * `not_found`. Used where the caller is answered at once (MCP `tasks/cancel`).
   */
  async requestCancel(tenant: string, jobId: string): Promise<CancelOutcome | 'signalled'> {
    const view = await this.get(tenant, jobId);
    if (isTerminal(view.state)) return { job: view, reason: alreadyFinished(view.state) };
    // The flag first: a worker that picks the job up from now on sees it before doing any work.
    await requestCancel(this.#redis, this.#keys, tenant, jobId);
    const removed = await this.#removeIfWaiting(view.kind, jobId);
    if (!removed) {
      await publishCancel(this.#redis, this.#keys, { tenant, jobId });
      return 'signalled';
    }
    await this.#records.apply(tenant, {
      jobId,
      state: 'cancelled',
      progress: 0,
      stage: 'cancelled',
      message: 'cancelled before it started',
      ts: Date.now(),
    });
    await Promise.all([
      deletePayload(this.#redis, this.#keys.payload(tenant, jobId)),
      clearCancelRequest(this.#redis, this.#keys, tenant, jobId),
    ]);
    return { job: await this.get(tenant, jobId) };
  }

  /**
   * Resolves with the job once it is finished, or with its current state when `timeoutMs` passes or
   * `signal` fires. `onProgress` sees the current state first, then every event.
   */
  async waitForJob(tenant: string, jobId: string, options: WaitOptions): Promise<JobView> {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const stop = await this.#progress.watch(tenant, jobId, (event) => {
      options.onProgress?.(event);
      if (event.state !== 'progress' && isTerminal(event.state)) finish();
    });
    const timer = setTimeout(finish, options.timeoutMs);
    const onAbort = () => finish();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // A signal that fired while the watch was being set up fires no event.
    if (options.signal?.aborted) finish();
    try {
      await finished;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      await stop();
    }
    return this.get(tenant, jobId);
  }

  /**
   * Waits for a job while its caller listens (see waitForJob), and cancels it if the caller goes
   * away before it finished: answers with the job as the cancel left it.
   */
  async follow(tenant: string, jobId: string, options: FollowOptions): Promise<JobView> {
    const { callerGone, signal, ...wait } = options;
    const view = await this.waitForJob(tenant, jobId, {
      ...wait,
      signal: signal ? AbortSignal.any([callerGone, signal]) : callerGone,
    });
    if (callerGone.aborted && view.state !== 'completed' && view.state !== 'failed') {
      this.#logger?.info({ jobId }, 'caller went away; cancelling its job');
      return (await this.cancel(tenant, jobId)).job;
    }
    return view;
  }

  /** Refuses new work for a queue whose backlog is at the limit (read at most every 250 ms). */
  async #checkBacklog(kind: 'ingest' | 'batch' | 'embed'): Promise<void> {
    const max = this.#limits.maxQueueDepth;
    if (max === 0) return;
    const waiting = await this.#backlogs[kind].waiting();
    if (waiting < max) return;
    this.#onRefused('queue_depth');
    throw busy(
      `the ${kind} queue is full (${waiting} jobs waiting; the limit is ${max})`,
      QUEUE_FULL_RETRY_AFTER_S,
    );
  }

  /**
   * Records a new job in one of its tenant's job slots and answers its place in the tenant's line.
   * At the tenant's limit nothing is recorded, the job's stored payload is dropped and the caller
   * gets `busy`.
   */
  async #record(
    tenant: string,
    jobId: string,
    job: NewJob,
    options: { reset?: boolean } = {},
  ): Promise<number> {
    try {
      return await this.#records.create(tenant, jobId, job, {
        ...options,
        maxLiveJobs: this.#limits.maxJobsPerTenant,
      });
    } catch (error) {
      if (isHopperError(error) && error.code === 'busy') {
        this.#onRefused('tenant_jobs');
        await deletePayload(this.#redis, this.#keys.payload(tenant, jobId));
      }
      throw error;
    }
  }

  /** Queues a job at its tenant's `place` in line (see `fairPriority`). */
  async #enqueue<K extends JobKind>(
    kind: K,
    jobId: string,
    data: JobPayload<K>,
    place: number,
  ): Promise<void> {
    const definition = jobCatalog[kind];
    const attributes = {
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'send',
      'messaging.destination.name': definition.queue,
      'hopper.job.id': jobId,
    };
    await inSpan(this.#tracer, `send ${definition.queue}`, attributes, async () => {
      // The trace context travels in the job data, so the worker's spans join the caller's trace.
      await this.#queues[kind].add(
        kind,
        { ...data, _trace: currentTraceCarrier() },
        {
          jobId,
          priority: fairPriority(place),
          attempts: definition.attempts,
          backoff: definition.backoff,
          removeOnComplete: { age: KEEP_FINISHED_SECONDS },
          removeOnFail: { age: KEEP_FINISHED_SECONDS },
        },
      );
    });
  }

  /**
   * Removes an earlier run's queue entry before its job id is queued again. A run whose record
   * already says failed or cancelled can still be active for a moment: the worker writes the
   * outcome, then BullMQ moves the job. Queued again in between, BullMQ would keep the old entry
   * (one job per id, and an active job cannot be removed) and the new run would never start, its
   * callers waiting for ever. So this waits for the old run to leave, within a bound.
   */
  async #removeEndedRun(kind: JobKind, jobId: string): Promise<void> {
    const deadline = Date.now() + ENDED_RUN_WAIT_MS;
    for (;;) {
      const job = await this.#queues[kind].getJob(jobId);
      if (!job) return;
      if ((await job.getState()) !== 'active') {
        await this.#queues[kind].remove(jobId);
        return;
      }
      if (Date.now() >= deadline) {
        throw busy(`job '${jobId}' is still finishing its previous run`, 1);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Removes a job that no worker holds yet; false when it is running (BullMQ refuses: locked). */
  async #removeIfWaiting(kind: JobKind, jobId: string): Promise<boolean> {
    const job = await this.#queues[kind].getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    if (state === 'active') return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Serializes the decision "reuse or re-run" for one ingest job id across replicas. The lock is
   * short and self-expiring, so a crashed gateway cannot wedge an id. `read` (one command on the
   * same connection) goes out right behind the lock request, in the same round trip, so Redis runs
   * it after the lock is taken; its answer is used only when the lock was.
   */
  async #withEnqueueLock<R, T>(
    tenant: string,
    jobId: string,
    read: () => Promise<R>,
    run: (read: R) => Promise<T>,
  ): Promise<T> {
    const key = this.#keys.enqueueLock(tenant, jobId);
    const token = `${process.pid}:${Math.random()}`;
    const deadline = Date.now() + 5_000;
    for (;;) {
      const [taken, value] = await Promise.all([this.#redis.set(key, token, 'PX', 10_000, 'NX'), read()]);
      if (taken === 'OK') {
        try {
          return await run(value);
        } finally {
          // Not waited for: the caller's answer does not depend on it, and the next command this
          // gateway sends (another submit of the same ingest included) runs after it. A release
          // that fails leaves the lock to expire.
          releaseOwned(this.#redis, [key], token).catch(() => undefined);
        }
      }
      if (Date.now() > deadline) {
        // Held this long, the lock's holder is most likely a gateway that died holding it: it is
        // free when it expires, so that is when to come back.
        const leftMs = await this.#redis.pttl(key);
        throw busy('the same ingest is being submitted elsewhere', Math.max(leftMs, 1_000) / 1000);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * The queue's order between tenants. A job's BullMQ priority is its place in its own tenant's line
 * (jobs that tenant has queued or running, this one included), and BullMQ takes the lowest number
 * first, in arrival order among equals. So a tenant that queues 200 ingests gets places 1 to 200,
 * and another tenant's single job, place 1, runs next rather than after all 200: workers take turns
 * between tenants instead of draining whoever came first. Every job carries a priority, since
 * BullMQ runs unprioritized jobs before all prioritized ones. The only exceptions are jobs a worker
 * lost (stalled), which BullMQ puts back at the head of the queue: they had their turn already.
 */
export function fairPriority(place: number): number {
  return Math.min(Math.max(1, place), MAX_PRIORITY);
}
/** BullMQ's largest priority (2^21 - 1). */
const MAX_PRIORITY = 2_097_151;

/** What `cancel` did: the job as it is now, and why it was not cancelled when it was not. */
export interface CancelOutcome {
  job: JobView;
  /**
   * Why the job is not cancelled by this call, for the caller: it had already finished, it finished
   * while the cancel was on its way (then its result stands), or it has not stopped yet.
   */
  reason?: string;
}

function alreadyFinished(state: JobState): string {
  if (state === 'cancelled') return 'the job was already cancelled';
  return `too late: the job had already ${state}, so nothing was cancelled; its outcome stands`;
}
