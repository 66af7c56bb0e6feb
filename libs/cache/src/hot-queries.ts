import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';

/** How many distinct queries a collection's ranking keeps. */
const KEEP = 500;
/** Every this many recordings per collection, all scores are halved: old popularity fades. */
const DECAY_EVERY = 1_000;
/** How long counts wait in memory before they go to Redis together. */
const FLUSH_AFTER_MS = 1_000;
/** Distinct (collection, query) pairs held before a flush is forced, whatever the time. */
const MAX_PENDING = 10_000;

/**
 * Which searches run most often on each collection, in a sorted set per collection: bounded (the
 * top KEEP) and decaying (scores halve every DECAY_EVERY searches), so warming after a write
 * re-runs what is popular now, not what was popular last month.
 *
 * Counts are summed in memory and sent in one pipeline at most once a second: a pipeline per
 * search was 6% of the gateway's CPU on cached searches (a `--cpu-prof` profile), for a ranking
 * that only needs to be roughly right. A gateway that dies loses at most a second of counts.
 * Gateways also flush when they hear of a write (CacheWarmer), so the warming that follows it
 * ranks the searches every gateway has counted.
 */
export class HotQueries {
  readonly #redis: Redis;
  readonly #keys: Keys;
  /** Recordings per ranking key since this process started (decides when to decay). */
  readonly #counts = new Map<string, number>();
  /** Counts not yet in Redis: ranking key -> query -> count. */
  #pending = new Map<string, Map<string, number>>();
  #pendingSize = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(redis: Redis, keys: Keys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Counts one run of `query` (a canonical argument string). Never waits: the hot path calls it. */
  record(tenant: string, collection: string, query: string): void {
    const key = this.#keys.hotQueries(tenant, collection);
    let queries = this.#pending.get(key);
    if (queries === undefined) {
      queries = new Map();
      this.#pending.set(key, queries);
    }
    const count = queries.get(query);
    if (count === undefined) this.#pendingSize++;
    queries.set(query, (count ?? 0) + 1);
    if (this.#pendingSize >= MAX_PENDING) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_AFTER_MS).unref();
  }

  /** Sends the counts held in memory. Failures are dropped: the ranking is a hint. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    this.#pendingSize = 0;
    const pipeline = this.#redis.pipeline();
    for (const [key, queries] of pending) {
      let added = 0;
      for (const [query, count] of queries) {
        pipeline.zincrby(key, count, query);
        added += count;
      }
      pipeline.zremrangebyrank(key, 0, -KEEP - 1);
      const before = this.#counts.get(key) ?? 0;
      this.#counts.set(key, before + added);
      if (Math.floor((before + added) / DECAY_EVERY) > Math.floor(before / DECAY_EVERY))
        pipeline.zunionstore(key, 1, key, 'WEIGHTS', 0.5);
    }
    await pipeline.exec().catch(() => undefined);
  }

  /**
   * The `n` most frequent queries of a collection, most frequent first: only those asked more than
   * once (a score above 1, after decay). A query asked once is not hot, and when every query is new
   * (an agent exploring) warming them would only take searches' time from the callers.
   */
  async top(tenant: string, collection: string, n: number): Promise<string[]> {
    if (n <= 0) return [];
    await this.flush();
    return this.#redis.zrevrangebyscore(
      this.#keys.hotQueries(tenant, collection),
      '+inf',
      '(1',
      'LIMIT',
      0,
      n,
    );
  }

  /** Every (tenant, collection) that has a ranking, for warming at start. */
  async collections(): Promise<{ tenant: string; collection: string }[]> {
    await this.flush();
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
