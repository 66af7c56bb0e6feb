import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import { guardedRead, type GuardedReads } from './document-listing.ts';
import { runScript, script } from './scripts.ts';

/**
 * ARGV[1]: an epoch for a clock that does not exist yet. The count and its epoch are created
 * together, so a reader never sees a count without the epoch it belongs to.
 */
const TICK = script(`
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'count', 1)`);

/**
 * The store's `CommitClock` in the queue's Redis (never evicted): one hash, its epoch and its count.
 * A Redis that loses it (a restart without persistence) starts a new epoch at the next tick, and
 * until then searches read the tables' versions, as they do when Redis cannot be read.
 */
export class RedisCommitClock {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #reads: GuardedReads | undefined;

  constructor(redis: Redis, keys: Keys, options: { reads?: GuardedReads } = {}) {
    this.#redis = redis;
    this.#key = keys.commitClock;
    this.#reads = options.reads;
  }

  async tick(): Promise<void> {
    await runScript(this.#redis, TICK, [this.#key], [randomUUID()]);
  }

  async read(): Promise<{ epoch: string; count: number } | undefined> {
    const [epoch, count] = await guardedRead(this.#reads, () =>
      this.#redis.hmget(this.#key, 'epoch', 'count'),
    );
    if (epoch === null || epoch === undefined || count === null || count === undefined) return undefined;
    return { epoch, count: Number(count) };
  }
}
