import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import { LRUCache } from 'lru-cache';
import { pack, unpack } from 'msgpackr';
import { CircuitBreaker, guarded } from '@hopper/redis';
import { SingleFlight } from './single-flight.ts';

export type CacheLayer = 'l1' | 'l2';

export interface CacheHit<T> {
  value: T;
  /** Where the value came from; `null` when it was computed by this call. */
  layer: CacheLayer | null;
}

export interface ResultCacheOptions {
  redis: Redis;
  keys: Keys;
  /** Bytes the in-process layer may hold (sized by each value's msgpack length). */
  l1MaxBytes: number;
  /** Entries stay in-process this long; short, because every process holds its own copy. */
  l1TtlMs: number;
  /** Budget of one Redis cache call; past it the call is abandoned and counted as an error. */
  timeoutMs: number;
  /** How long a process waits for another process computing the same key (cross-process single-flight). */
  flightWaitMs?: number;
  /** Shared with the other users of the same Redis, so one outage opens it for all. */
  breaker?: CircuitBreaker;
  onError?: (error: Error, operation: string) => void;
}

/** Hit and miss counters by layer, for metrics. */
export interface CacheStats {
  l1: { hits: number; misses: number };
  l2: { hits: number; misses: number; errors: number };
  computed: number;
  /** Calls that joined a computation already running (in this process or another). */
  coalesced: number;
}

interface L1Entry {
  value: unknown;
  /** What the entry counts for in L1's byte budget: the packed value, plus its rendering. */
  size: number;
  /** The value's serialised answer, made once by the first `rendered` call (see there). */
  rendered?: Buffer;
}

/**
 * Two-level cache for tool results: an in-process LRU bounded in bytes (L1) in front of Redis (L2),
 * values packed with msgpack. Keys carry everything that makes an answer valid (tenant, tool,
 * canonical arguments, collection epoch), so entries are never invalidated, only outdated.
 *
 * The cache never stands between a caller and an answer: every Redis call has a time budget, and a
 * failure (slow, down, garbled) just means the value is computed.
 */
export class ResultCache {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #l1: LRUCache<string, L1Entry>;
  readonly #timeoutMs: number;
  readonly #breaker: CircuitBreaker;
  readonly #flightWaitMs: number;
  readonly #onError: (error: Error, operation: string) => void;
  readonly #flights = new SingleFlight<CacheHit<unknown>>();
  readonly #stats: CacheStats = {
    l1: { hits: 0, misses: 0 },
    l2: { hits: 0, misses: 0, errors: 0 },
    computed: 0,
    coalesced: 0,
  };

  constructor(options: ResultCacheOptions) {
    this.#redis = options.redis;
    this.#keys = options.keys;
    this.#timeoutMs = options.timeoutMs;
    this.#breaker = options.breaker ?? new CircuitBreaker();
    // Long enough for a slow search on a loaded machine; the lock expires on its own if its holder dies.
    this.#flightWaitMs = options.flightWaitMs ?? 5_000;
    this.#onError = options.onError ?? (() => undefined);
    this.#l1 = new LRUCache<string, L1Entry>({
      maxSize: options.l1MaxBytes,
      ttl: options.l1TtlMs,
      // Size is set explicitly on every `set` (the packed length); this is only a fallback.
      sizeCalculation: () => 1,
    });
  }

  /** Looks a key up in L1, then L2 (filling L1 on an L2 hit). */
  get<T>(key: string): Promise<CacheHit<T> | undefined> {
    return this.#get<T>(key, true);
  }

  /**
   * As `get`, but a miss is not counted: for a caller that hands a miss on to a path that looks the
   * key up again through `getOrCompute` (the MCP fast path, which sends misses through the SDK), so
   * one miss counts once.
   */
  peek<T>(key: string): Promise<CacheHit<T> | undefined> {
    return this.#get<T>(key, false);
  }

  /**
   * A rendering of a cached value (the fast path's serialised MCP answer), made once per L1 entry and
   * kept with it: it lives and dies with the entry, and its length counts in L1's byte budget, so the
   * renderings cannot outgrow the cache. `value` must be what a hit on `key` returned; when the entry
   * is gone or holds another value by now, the rendering is made and not kept.
   */
  rendered(key: string, value: unknown, render: () => Buffer): Buffer {
    const entry = this.#l1.peek(key);
    if (entry === undefined || entry.value !== value) return render();
    if (entry.rendered !== undefined) return entry.rendered;
    const rendered = render();
    const size = entry.size + rendered.length;
    // A new entry object: the LRU recounts an entry's size only when it is replaced. It keeps its expiry.
    this.#l1.set(key, { value, size, rendered }, { size, noUpdateTTL: true });
    return rendered;
  }

  /** L1 only, for a key whose Redis lookup has just missed; a miss counts in both layers' counters. */
  #local<T>(key: string): CacheHit<T> | undefined {
    const local = this.#l1.get(key);
    if (local) {
      this.#stats.l1.hits += 1;
      return { value: local.value as T, layer: 'l1' };
    }
    this.#stats.l1.misses += 1;
    this.#stats.l2.misses += 1;
    return undefined;
  }

  async #get<T>(key: string, countMiss: boolean): Promise<CacheHit<T> | undefined> {
    const local = this.#l1.get(key);
    if (local) {
      this.#stats.l1.hits += 1;
      return { value: local.value as T, layer: 'l1' };
    }
    if (countMiss) this.#stats.l1.misses += 1;
    const bytes = await this.#redisCall('get', () => this.#redis.getBuffer(key));
    if (!bytes) {
      if (countMiss) this.#stats.l2.misses += 1;
      return undefined;
    }
    try {
      const value = unpack(bytes) as T;
      this.#stats.l2.hits += 1;
      this.#setL1(key, value, bytes.length);
      return { value, layer: 'l2' };
    } catch (error) {
      this.#fail(error, 'decode');
      return undefined;
    }
  }

  /**
   * Stores a value in both layers: L1 at once, then L2, whose write is sent before this returns
   * (a command sent after it on this connection runs after it) and awaited up to the time budget.
   */
  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = pack(value);
    } catch (error) {
      this.#fail(error, 'encode');
      return;
    }
    this.#setL1(key, value, bytes.length);
    await this.#redisCall('set', () => this.#redis.set(key, bytes, 'EX', ttlSeconds));
  }

  /**
   * The cached value, or `compute()`'s, stored for next time. Concurrent misses in this process
   * share one computation; with `distributed`, so do misses across processes: the first takes a
   * short Redis lock and the others wait (bounded) for its value to appear in L2.
   */
  async getOrCompute<T>(
    key: string,
    ttlSeconds: number,
    compute: () => Promise<T>,
    options: {
      distributed?: boolean;
      cacheable?: (value: T) => boolean;
      /**
       * The caller has just looked the key up (`peek`) and missed: only L1 is checked again (a
       * flight of this process that ended since then left the value there), not Redis.
       */
      missed?: boolean;
    } = {},
  ): Promise<CacheHit<T>> {
    const running = this.#flights.get(key);
    if (running) {
      this.#stats.coalesced += 1;
      return (await running) as CacheHit<T>;
    }
    return (await this.#flights.run(key, async () => {
      const cached = options.missed ? this.#local<T>(key) : await this.get<T>(key);
      if (cached) return cached;
      let locked = false;
      if (options.distributed) {
        const other = await this.#awaitOtherProcess<T>(key);
        if ('value' in other) return other;
        locked = other.locked;
      }
      let value: T;
      try {
        value = await compute();
      } catch (error) {
        if (locked) this.#unlock(key);
        throw error;
      }
      this.#stats.computed += 1;
      // The caller has its answer without waiting for Redis: L1 holds the value at once, and the
      // L2 write and the lock's release go out together, the value first (one connection, in
      // order), so a process waiting for the lock sees the value once the lock is gone.
      if (!options.cacheable || options.cacheable(value)) void this.set(key, value, ttlSeconds);
      if (locked) this.#unlock(key);
      return { value, layer: null };
    })) as CacheHit<T>;
  }

  stats(): CacheStats {
    return structuredClone(this.#stats);
  }

  /**
   * Takes the key's flight lock, or, when another process holds it, waits for that process's value
   * to land in L2. Returns the value if it arrived; otherwise the caller computes it itself (it holds
   * the lock, the other process gave up, or Redis is unavailable) and releases the lock if it holds it.
   */
  async #awaitOtherProcess<T>(key: string): Promise<CacheHit<T> | { locked: boolean }> {
    const lock = this.#keys.flightLock(key);
    const acquired = await this.#redisCall('lock', () =>
      this.#redis.set(lock, '1', 'PX', this.#flightWaitMs, 'NX'),
    );
    if (acquired === 'OK') return { locked: true };
    if (acquired !== undefined) {
      const deadline = Date.now() + this.#flightWaitMs;
      let delay = 5;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 50);
        // The lock first, then the value, in one round trip (Redis runs them in this order): the
        // holder stores its value before it lets the lock go, so a lock seen gone means the value,
        // if there is one, is seen too. (Value first, then lock, missed a value stored between the
        // two and computed again.)
        const [held, bytes] = await Promise.all([
          this.#redisCall('lock', () => this.#redis.exists(lock)),
          this.#redisCall('get', () => this.#redis.getBuffer(key)),
        ]);
        if (bytes) {
          this.#stats.coalesced += 1;
          this.#stats.l2.hits += 1;
          const value = unpack(bytes) as T;
          this.#setL1(key, value, bytes.length);
          return { value, layer: 'l2' };
        }
        if (held === 0) break;
      }
    }
    return { locked: false };
  }

  #unlock(key: string): void {
    void this.#redisCall('unlock', () => this.#redis.del(this.#keys.flightLock(key)));
  }

  #setL1(key: string, value: unknown, packedBytes: number): void {
    const size = Math.max(1, packedBytes);
    this.#l1.set(key, { value, size }, { size });
  }

  async #redisCall<T>(operation: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await guarded(this.#breaker, this.#timeoutMs, call);
    } catch (error) {
      this.#fail(error, operation);
      return undefined;
    }
  }

  #fail(error: unknown, operation: string): void {
    this.#stats.l2.errors += 1;
    this.#onError(error instanceof Error ? error : new Error(String(error)), operation);
  }
}
