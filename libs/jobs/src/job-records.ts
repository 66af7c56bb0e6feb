import type { Redis } from 'ioredis';
import {
  busy,
  isTerminal,
  jobKind,
  jobState,
  type JobKind,
  type JobResult,
  type JobState,
  type JobView,
  type Keys,
  type ProgressEvent,
} from '@hopper/contracts';

/** Finished jobs stay visible to `get_job` for a week, then expire with their record. */
export const FINISHED_JOB_TTL_SECONDS = 7 * 24 * 60 * 60;
/** `list_jobs` remembers this many jobs per tenant; older ids drop off the index. */
export const JOB_INDEX_MAX = 10_000;

/** A state change or progress update, with the outcome when it is terminal. */
export interface JobUpdate extends ProgressEvent {
  /** A completed job's result: its kind's result schema in the job catalog. */
  result?: JobResult<JobKind>;
  error?: string;
}

/**
 * How long a queued or running job holds one of its tenant's job slots without news. Every update
 * renews it and a finished job gives its slot back at once; the lease only matters for a job that
 * never finishes (its gateway crashed between recording and queueing it, or BullMQ gave up on it
 * after a worker crash without running it again), whose slot comes back when the lease runs out.
 */
export const LIVE_JOB_LEASE_MS = 60 * 60 * 1000;

/**
 * When a tenant at its job limit is told to try again. A slot frees as soon as any of the tenant's
 * jobs ends, and one worker ends hundreds of small documents a second: at 5 s, a tenant sending
 * documents one per call through 8 callers kept its worker idle for ~3.5 s of every burst (the
 * queue drained in ~2 s while every caller waited). 1 s is the least `Retry-After` can say.
 */
const JOB_SLOT_RETRY_AFTER_S = 1;

/**
 * Applies an update to a job record and publishes it on the job's channel, atomically: a record in a
 * terminal state never changes again (a late progress event cannot resurrect a cancelled job), and
 * subscribers see events in the order the record took them. A terminal update gives the job's slot
 * back; any other renews its lease.
 *
 * KEYS[1] job hash, KEYS[2] tenant's live jobs. ARGV: 1 record state, 2 terminal flag, 3 ttl,
 * 4 channel, 5 event JSON, 6 job id, 7 lease ms, 8.. field/value pairs.
 * Returns 1 when applied, 0 when the job is unknown or already finished.
 */
const APPLY_UPDATE = `
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return 0 end
if current == 'completed' or current == 'failed' or current == 'cancelled' then return 0 end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'state', ARGV[1], unpack(fields))
if ARGV[2] == '1' then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('ZREM', KEYS[2], ARGV[6])
else
  local clock = redis.call('TIME')
  local lease = tonumber(ARGV[7])
  redis.call('ZADD', KEYS[2], tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + lease, ARGV[6])
  redis.call('PEXPIRE', KEYS[2], lease)
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

/**
 * Creates a job record, indexes it and announces it as `queued` on its channel, atomically, unless
 * one exists and no reset is asked for. (Every later change is announced by APPLY_UPDATE; without
 * this, listeners such as the Socket.IO jobs feed would learn of a job only when a worker took it.)
 * The job takes one of its tenant's slots: jobs whose lease ran out are dropped first, and when the
 * tenant already holds `limit` slots nothing is written.
 * KEYS[1] job hash, KEYS[2] tenant's job index, KEYS[3] tenant's live jobs. ARGV: 1 reset flag,
 * 2 job id, 3 now, 4 index max, 5 channel, 6 event JSON, 7 live job limit (0: none), 8 lease ms,
 * 9.. field/value pairs. Returns the tenant's live jobs (this one included) when created, 0 when it
 * exists, -1 when the tenant is at its limit.
 */
const CREATE_JOB = `
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit = tonumber(ARGV[7])
local lease = tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if limit > 0 and not redis.call('ZSCORE', KEYS[3], ARGV[2]) and redis.call('ZCARD', KEYS[3]) >= limit then
  return -1
end
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[4]) - 1)
redis.call('ZADD', KEYS[3], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[3], lease)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return redis.call('ZCARD', KEYS[3])
`;

export interface NewJob {
  kind: JobKind;
  documentId?: string;
  collection?: string;
}

export interface ListJobsOptions {
  state?: JobState;
  limit: number;
  cursor?: string;
}

/**
 * Hopper's record of each job: what clients see through `get_job` and `list_jobs`, one hash per job.
 * BullMQ runs the job; this record is the durable last state, readable in one round trip, and it
 * knows outcomes BullMQ has no state for (a cancelled job).
 */
export class JobRecords {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #leaseMs: number;

  constructor(redis: Redis, keys: Keys, options: { liveJobLeaseMs?: number } = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#leaseMs = options.liveJobLeaseMs ?? LIVE_JOB_LEASE_MS;
    redis.defineCommand('hopperApplyJobUpdate', { numberOfKeys: 2, lua: APPLY_UPDATE });
    redis.defineCommand('hopperCreateJob', { numberOfKeys: 3, lua: CREATE_JOB });
  }

  /**
   * Creates (or, with `reset`, re-creates) the record in state `queued` and answers how many jobs
   * its tenant now has queued or running, this one included: its place in the tenant's own line,
   * which the queue orders by (see `fairPriority`). Without `reset`, an existing record is left as
   * it is and 0 is returned. With `maxLiveJobs`, a tenant that already has that many jobs queued or
   * running is refused with a `busy` error and nothing is written.
   */
  async create(
    tenant: string,
    jobId: string,
    job: NewJob,
    options: { reset?: boolean; maxLiveJobs?: number } = {},
  ): Promise<number> {
    const key = this.#keys.job(tenant, jobId);
    const now = Date.now();
    const fields: Record<string, string> = {
      kind: job.kind,
      state: 'queued',
      progress: '0',
      createdAt: String(now),
      updatedAt: String(now),
      ...(job.documentId ? { documentId: job.documentId } : {}),
      ...(job.collection ? { collection: job.collection } : {}),
    };
    const created = await (
      this.#redis as unknown as { hopperCreateJob(...args: (string | number)[]): Promise<number> }
    ).hopperCreateJob(
      key,
      this.#keys.jobIndex(tenant),
      this.#keys.liveJobs(tenant),
      options.reset ? '1' : '0',
      jobId,
      now,
      JOB_INDEX_MAX,
      this.#keys.progressChannel(tenant, jobId),
      JSON.stringify({
        jobId,
        state: 'queued',
        progress: 0,
        stage: 'queued',
        ts: now,
      } satisfies ProgressEvent),
      options.maxLiveJobs ?? 0,
      this.#leaseMs,
      ...Object.entries(fields).flat(),
    );
    if (created === -1) {
      throw busy(
        `too many jobs queued or running for this tenant (the limit is ${options.maxLiveJobs}); wait for some to finish or cancel some`,
        JOB_SLOT_RETRY_AFTER_S,
      );
    }
    return created;
  }

  /** Applies an update unless the job already finished; publishes it on the job's channel. */
  async apply(tenant: string, update: JobUpdate): Promise<boolean> {
    const state: JobState = update.state === 'progress' ? 'active' : update.state;
    const fields: string[] = ['progress', String(update.progress), 'updatedAt', String(update.ts)];
    if (update.stage !== undefined) fields.push('stage', update.stage);
    // A message describes the update that carries it ("embedded 3328 of 3545 chunks"): an update
    // without one clears it, so a job writing or completed never shows an earlier stage's message.
    fields.push('message', update.message ?? '');
    if (update.result !== undefined) fields.push('result', JSON.stringify(update.result));
    if (update.error !== undefined) fields.push('error', update.error);
    const event: ProgressEvent = {
      jobId: update.jobId,
      state: update.state,
      progress: update.progress,
      ts: update.ts,
      ...(update.stage !== undefined ? { stage: update.stage } : {}),
      ...(update.message !== undefined ? { message: update.message } : {}),
      ...(update.current !== undefined ? { current: update.current } : {}),
      ...(update.total !== undefined ? { total: update.total } : {}),
    };
    const applied = await (
      this.#redis as unknown as {
        hopperApplyJobUpdate(key: string, liveJobs: string, ...args: string[]): Promise<number>;
      }
    ).hopperApplyJobUpdate(
      this.#keys.job(tenant, update.jobId),
      this.#keys.liveJobs(tenant),
      state,
      isTerminal(state) ? '1' : '0',
      String(FINISHED_JOB_TTL_SECONDS),
      this.#keys.progressChannel(tenant, update.jobId),
      JSON.stringify(event),
      update.jobId,
      String(this.#leaseMs),
      ...fields,
    );
    return applied === 1;
  }

  async get(tenant: string, jobId: string): Promise<JobView | undefined> {
    const hash = await this.#redis.hgetall(this.#keys.job(tenant, jobId));
    return toView(jobId, hash);
  }

  /** Newest first; the cursor is opaque to clients (`<createdAt>.<jobId>` of the last entry). */
  async list(tenant: string, options: ListJobsOptions): Promise<{ jobs: JobView[]; nextCursor?: string }> {
    const index = this.#keys.jobIndex(tenant);
    let max = '+inf';
    let after: { score: number; id: string } | undefined;
    if (options.cursor) {
      after = decodeCursor(options.cursor);
      max = String(after.score);
    }
    const jobs: JobView[] = [];
    const batch = Math.max(options.limit * 2, 50);
    let offset = 0;
    let exhausted = false;
    while (jobs.length < options.limit && !exhausted) {
      const page = await this.#redis.zrevrangebyscore(
        index,
        max,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        offset,
        batch,
      );
      offset += batch;
      if (page.length < batch * 2) exhausted = true;
      const entries: { id: string; score: number }[] = [];
      for (let i = 0; i + 1 < page.length; i += 2) {
        const id = page[i] as string;
        const score = Number(page[i + 1]);
        // Same-millisecond ids come in descending order; skip up to and including the cursor's id.
        if (after && score === after.score && id >= after.id) continue;
        entries.push({ id, score });
      }
      const pipeline = this.#redis.pipeline();
      for (const entry of entries) pipeline.hgetall(this.#keys.job(tenant, entry.id));
      const results = (await pipeline.exec()) ?? [];
      const expired: string[] = [];
      entries.forEach((entry, i) => {
        const hash = results[i]?.[1] as Record<string, string> | undefined;
        const view = hash ? toView(entry.id, hash) : undefined;
        if (!view) {
          expired.push(entry.id);
          return;
        }
        if (jobs.length >= options.limit) return;
        if (options.state && view.state !== options.state) return;
        jobs.push(view);
        after = { score: entry.score, id: entry.id };
      });
      // Records expire on their own; drop their ids from the index as we pass them.
      if (expired.length > 0) await this.#redis.zrem(index, ...expired);
      if (entries.length === 0 && exhausted) break;
    }
    const more = jobs.length === options.limit && after !== undefined;
    return more && after ? { jobs, nextCursor: encodeCursor(after) } : { jobs };
  }
}

function encodeCursor(position: { score: number; id: string }): string {
  return Buffer.from(`${position.score}.${position.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { score: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const dot = text.indexOf('.');
  const score = Number(text.slice(0, dot));
  if (dot <= 0 || !Number.isFinite(score)) throw new RangeError('cursor is not one this server issued');
  return { score, id: text.slice(dot + 1) };
}

function toView(jobId: string, hash: Record<string, string>): JobView | undefined {
  const state = jobState.safeParse(hash.state);
  const kind = jobKind.safeParse(hash.kind);
  if (!state.success || !kind.success) return undefined;
  const view: JobView = {
    jobId,
    kind: kind.data,
    state: state.data,
    progress: Number(hash.progress ?? 0),
    createdAt: new Date(Number(hash.createdAt)).toISOString(),
    updatedAt: new Date(Number(hash.updatedAt)).toISOString(),
  };
  if (hash.documentId) view.documentId = hash.documentId;
  if (hash.collection) view.collection = hash.collection;
  if (hash.stage) view.stage = hash.stage;
  if (hash.message) view.message = hash.message;
  if (hash.error) view.error = hash.error;
  if (hash.result) view.result = JSON.parse(hash.result) as NonNullable<JobView['result']>;
  return view;
}
