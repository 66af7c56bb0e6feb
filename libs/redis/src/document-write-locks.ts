import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import { releaseOwned } from './owned-keys.ts';

/**
 * Long enough for the slowest group commit (a few seconds for thousands of chunks), short enough
 * that a worker killed while holding a lock holds up that document's next write only briefly.
 */
const DEFAULT_TTL_MS = 30_000;

/**
 * Per-document write locks in Redis, shared by every worker writing one store (the store's
 * `DocumentLocks`): two workers never write the same document at once, so two re-ingests that run
 * at the same time get distinct versions and the later commit holds the later content.
 */
export class DocumentWriteLocks {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #ttlMs: number;
  /** This process's identity as a lock holder. */
  readonly #owner = randomUUID();

  constructor(redis: Redis, keys: Keys, options: { ttlMs?: number } = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  }

  async tryAcquire(documentKeys: readonly string[]): Promise<string[]> {
    const pipeline = this.#redis.pipeline();
    for (const key of documentKeys) {
      pipeline.set(this.#keys.documentWriteLock(key), this.#owner, 'PX', this.#ttlMs, 'NX');
    }
    const results = (await pipeline.exec()) ?? [];
    return documentKeys.filter((_, i) => {
      const [error, reply] = results[i] ?? [];
      if (error) throw error;
      return reply === 'OK';
    });
  }

  async release(documentKeys: readonly string[]): Promise<void> {
    const keys = documentKeys.map((key) => this.#keys.documentWriteLock(key));
    await releaseOwned(this.#redis, keys, this.#owner);
  }
}
