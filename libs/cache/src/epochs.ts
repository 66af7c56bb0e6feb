import type { Redis } from 'ioredis';
import * as z from 'zod';
import type { Keys } from '@hopper/contracts';
import { CircuitBreaker, guarded } from '@hopper/redis';
import { withTimeout } from '@hopper/lifecycle';

/** The epoch name that changes with every write to any of a tenant's collections. */
export const ALL_COLLECTIONS = '*';

const bumpMessage = z.object({ tenant: z.string(), collection: z.string(), epoch: z.number().int() });
export type EpochBump = z.infer<typeof bumpMessage>;

/**
 * Collection epochs: a counter per collection that every write bumps. Cached reads put the epoch in
 * their key, so after a write nobody can read the old entry again and nothing has to be deleted.
 *
 * Readers read the epoch from Redis on every cached call. The reads asked for in one turn of the
 * event loop go out together as one MGET at its end (`setImmediate`): every call's read is sent
 * after the call arrived, so it sees every write finished before then, and a burst of concurrent
 * cached calls costs Redis one command instead of one each. Remembering
 * epochs in memory and learning of bumps through pub/sub would save that round trip, but it is not
 * safe across replicas: a client can learn that its write finished (through gateway A) and ask
 * gateway B before B's event loop has handled the bump message, and get the old answer. The bump
 * announcements still go out on pub/sub, for cache warming.
 */
export class Epochs {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #timeoutMs: number;
  readonly #breaker: CircuitBreaker;
  readonly #onError: (error: Error, operation: string) => void;
  readonly #listeners = new Set<(bump: EpochBump) => void>();
  /** Bumps in flight and the one queued behind each, by tenant and collection (see `bump`). */
  readonly #bumps = new Map<string, { inFlight?: Promise<number>; next?: Promise<number> }>();
  /** The reads asked for in this turn of the event loop, by key, not sent yet. */
  #batch: Map<string, PromiseWithResolvers<number | undefined>> | undefined;

  constructor(options: {
    redis: Redis;
    keys: Keys;
    timeoutMs: number;
    breaker?: CircuitBreaker;
    /** Told when a read fails: every cached call then answers without the cache. */
    onError?: (error: Error, operation: string) => void;
  }) {
    this.#redis = options.redis;
    this.#keys = options.keys;
    this.#timeoutMs = options.timeoutMs;
    this.#breaker = options.breaker ?? new CircuitBreaker();
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * The collection's current epoch, or `undefined` when it cannot be known now (Redis slow or
   * down): the caller must then not use the cache at all. Read in this turn's batch (see above).
   */
  current(tenant: string, collection: string): Promise<number | undefined> {
    return this.#inBatch(this.#keys.epoch(tenant, collection));
  }

  /**
   * How many times an ingest job id has been started again (0 before any re-run), read in the
   * same batch as the epochs: a finished job's cached answer is keyed by it. `undefined` as above.
   */
  jobRun(tenant: string, jobId: string): Promise<number | undefined> {
    return this.#inBatch(this.#keys.jobRun(tenant, jobId));
  }

  #inBatch(key: string): Promise<number | undefined> {
    let batch = this.#batch;
    if (batch === undefined) {
      const started = new Map<string, PromiseWithResolvers<number | undefined>>();
      this.#batch = batch = started;
      setImmediate(() => this.#read(started));
    }
    let read = batch.get(key);
    if (read === undefined) {
      read = Promise.withResolvers<number | undefined>();
      batch.set(key, read);
    }
    return read.promise;
  }

  /** Sends one turn's reads as one MGET and answers each (all `undefined` when it fails). */
  #read(batch: Map<string, PromiseWithResolvers<number | undefined>>): void {
    // Reads asked for from now on go into the next turn's batch, sent after this one.
    this.#batch = undefined;
    const keys = [...batch.keys()];
    guarded(this.#breaker, this.#timeoutMs, () => this.#redis.mget(keys)).then(
      (stored) => {
        let i = 0;
        for (const read of batch.values()) read.resolve(Number(stored[i++] ?? 0));
      },
      (error: unknown) => {
        this.#onError(error instanceof Error ? error : new Error(String(error)), 'epoch read');
        for (const read of batch.values()) read.resolve(undefined);
      },
    );
  }

  /**
   * Bumps a collection's epoch (and the tenant-wide one) and announces both, in one transaction.
   * Used by writers; bounded by `budgetMs` so an unreachable cache cannot stall a job.
   *
   * Concurrent bumps of one collection share: a bump asked for while another is in flight joins
   * the next one, sent when that one ends, so every caller's bump runs after it asked (after its
   * write) and a group commit of fifty documents costs two bumps, not fifty, here and in every
   * gateway that hears of them.
   */
  bump(tenant: string, collection: string, budgetMs = 1_000): Promise<number> {
    const key = this.#keys.epoch(tenant, collection);
    const bumps = this.#bumps.get(key) ?? {};
    this.#bumps.set(key, bumps);
    const send = () => {
      const sent = this.#bumpNow(tenant, collection, budgetMs).finally(() => {
        if (bumps.inFlight === sent) bumps.inFlight = undefined;
        if (bumps.inFlight === undefined && bumps.next === undefined) this.#bumps.delete(key);
      });
      bumps.inFlight = sent;
      return sent;
    };
    if (bumps.inFlight === undefined) return send();
    bumps.next ??= bumps.inFlight
      .catch(() => undefined)
      .then(() => {
        bumps.next = undefined;
        return send();
      });
    return bumps.next;
  }

  /**
   * Counts a new run of an ingest job id whose earlier run ended (see `jobRun`). Kept for `ttlSeconds`
   * after its last bump, which must outlive the runs it counts and their cached answers. Bounded
   * by `budgetMs`, as a bump is: an unreachable cache must not refuse the ingest.
   */
  async bumpJobRun(tenant: string, jobId: string, ttlSeconds: number, budgetMs = 1_000): Promise<void> {
    const key = this.#keys.jobRun(tenant, jobId);
    const answers = await withTimeout(this.#redis.multi().incr(key).expire(key, ttlSeconds).exec(), budgetMs);
    const failed = answers?.find(([error]) => error)?.[0];
    if (!answers || failed) throw failed ?? new Error(`the run count of job ${jobId} was not bumped`);
  }

  async #bumpNow(tenant: string, collection: string, budgetMs: number): Promise<number> {
    const bump = `
      local epoch = redis.call('INCR', KEYS[1])
      local all = redis.call('INCR', KEYS[2])
      redis.call('PUBLISH', ARGV[1], cjson.encode({tenant = ARGV[2], collection = ARGV[3], epoch = epoch}))
      redis.call('PUBLISH', ARGV[1], cjson.encode({tenant = ARGV[2], collection = ARGV[4], epoch = all}))
      return epoch`;
    const epoch = await withTimeout(
      this.#redis.eval(
        bump,
        2,
        this.#keys.epoch(tenant, collection),
        this.#keys.epoch(tenant, ALL_COLLECTIONS),
        this.#keys.epochChannel,
        tenant,
        collection,
        ALL_COLLECTIONS,
      ),
      budgetMs,
    );
    return Number(epoch);
  }

  /** Follows bump announcements on a dedicated subscriber connection (for `onBump`). */
  async listen(subscriber: Redis): Promise<void> {
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.#keys.epochChannel) return;
      try {
        const bump = bumpMessage.safeParse(JSON.parse(raw));
        if (bump.success) for (const listener of this.#listeners) listener(bump.data);
      } catch {
        // Not ours to act on.
      }
    });
    await subscriber.subscribe(this.#keys.epochChannel);
  }

  /** Calls `listener` on every bump this process hears of (cache warming). */
  onBump(listener: (bump: EpochBump) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
