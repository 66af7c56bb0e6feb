import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';

/** How many distinct queries a collection's ranking keeps. */
const KEEP = 500;
/** Every this many recordings per collection, all scores are halved: old popularity fades. */
const DECAY_EVERY = 1_000;

/**
 * Which searches run most often on each collection, in a sorted set per collection: bounded (the
 * top KEEP) and decaying (scores halve every DECAY_EVERY searches), so warming after a write
 * re-runs what is popular now, not what was popular last month.
 */
export class HotQueries {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #counts = new Map<string, number>();

  constructor(redis: Redis, keys: Keys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Counts one run of `query` (a canonical argument string). Fire and forget: never awaited on the hot path. */
  record(tenant: string, collection: string, query: string): void {
    const key = this.#keys.hotQueries(tenant, collection);
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    const pipeline = this.#redis
      .pipeline()
      .zincrby(key, 1, query)
      .zremrangebyrank(key, 0, -KEEP - 1);
    if (count % DECAY_EVERY === 0) pipeline.zunionstore(key, 1, key, 'WEIGHTS', 0.5);
    pipeline.exec().catch(() => undefined);
  }

  /** The `n` most frequent queries of a collection, most frequent first. */
  async top(tenant: string, collection: string, n: number): Promise<string[]> {
    if (n <= 0) return [];
    return this.#redis.zrevrange(this.#keys.hotQueries(tenant, collection), 0, n - 1);
  }

  /** Every (tenant, collection) that has a ranking, for warming at start. */
  async collections(): Promise<{ tenant: string; collection: string }[]> {
    const pattern = this.#keys.hotQueries('*', '*');
    const parse = new RegExp(
      `^${escape(this.#keys.hotQueries('\u0000', '\u0001')).replace('\u0000', '(.+?)').replace('\u0001', '(.+)')}$`,
    );
    const found: { tenant: string; collection: string }[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const key of batch) {
        const match = parse.exec(key);
        if (match?.[1] && match[2]) found.push({ tenant: match[1], collection: match[2] });
      }
    } while (cursor !== '0');
    return found;
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
