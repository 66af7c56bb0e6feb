import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import { CircuitBreaker, guarded } from '@hopper/redis';
import { SingleFlight } from './single-flight.ts';

/** The part of an embedding provider the cache needs (structurally the embeddings lib's provider). */
export interface Embedder {
  readonly model: string;
  readonly dimensions: number | undefined;
  embed(texts: readonly string[], options?: { signal?: AbortSignal }): Promise<Float32Array[]>;
}

export interface EmbeddingCacheOptions {
  redis: Redis;
  keys: Keys;
  ttlSeconds: number;
  timeoutMs: number;
  /**
   * Names the vector space: the model id plus anything else that changes the vectors (a configured
   * `dimensions`). Fixed at start: a size learned from the first response must not change keys.
   */
  space: string;
  /** Shared with the other users of the same Redis, so one outage opens it for all. */
  breaker?: CircuitBreaker;
  onError?: (error: Error, operation: string) => void;
}

export interface EmbeddingCacheStats {
  hits: number;
  misses: number;
  errors: number;
}

/**
 * An embedder whose cache entries belong to a tenant. The tenant is an argument of every call, not
 * an ambient scope, so a caller cannot forget it and share one tenant's entries with another.
 */
export interface TenantEmbedder {
  /** Model id: stored with every vector and part of every cache key. */
  readonly model: string;
  /** Vector length when known before the first call. */
  readonly dimensions: number | undefined;
  /** Embeds `texts` in order, reading and filling `tenant`'s cache entries. */
  embed(
    tenant: string,
    texts: readonly string[],
    options?: { signal?: AbortSignal },
  ): Promise<Float32Array[]>;
  stats(): EmbeddingCacheStats;
}

/**
 * An embedder that does not remember, for a provider that computes in-process (the builtin one):
 * it embeds a query in ~0.03 ms and an abstract-sized chunk in ~0.3-0.5 ms, about what a Redis
 * round trip costs, so a lookup saves nothing, and storing every chunk's vector would hold
 * ~150 MB of Redis per 100k chunks for what is cheaper to compute again.
 */
export function withoutEmbeddingCache<E extends Embedder>(provider: E): TenantEmbedder {
  return {
    model: provider.model,
    dimensions: provider.dimensions,
    embed: (_tenant, texts, options) => provider.embed(texts, options),
    stats: () => ({ hits: 0, misses: 0, errors: 0 }),
  };
}

/**
 * An embedder that remembers: each text's vector is kept in Redis as float32 bytes under the
 * caller's tenant, the model id and the text's hash, so a repeated query, an `embed_texts` of known
 * texts or a re-ingest of unchanged chunks costs a lookup instead of a model call. Only the missing
 * texts reach the provider, and concurrent misses of the same text in this process share one call.
 */
export function withEmbeddingCache<E extends Embedder>(
  provider: E,
  options: EmbeddingCacheOptions,
): TenantEmbedder {
  const { redis, keys, ttlSeconds, timeoutMs } = options;
  const onError = options.onError ?? (() => undefined);
  const breaker = options.breaker ?? new CircuitBreaker();
  const flights = new SingleFlight<Float32Array>();
  const stats: EmbeddingCacheStats = { hits: 0, misses: 0, errors: 0 };
  const keyOf = (tenant: string, text: string) =>
    keys.embedding(tenant, options.space, createHash('sha256').update(text).digest('base64url'));

  async function lookup(cacheKeys: string[]): Promise<(Buffer | null)[]> {
    try {
      return await guarded(breaker, timeoutMs, () => redis.mgetBuffer(...cacheKeys));
    } catch (error) {
      stats.errors += 1;
      onError(error instanceof Error ? error : new Error(String(error)), 'mget');
      return cacheKeys.map(() => null);
    }
  }

  return {
    get model() {
      return provider.model;
    },
    get dimensions() {
      return provider.dimensions;
    },
    stats: () => ({ ...stats }),
    async embed(tenant, texts, embedOptions) {
      if (texts.length === 0) return [];
      const cacheKeys = texts.map((text) => keyOf(tenant, text));
      const vectors: Promise<Float32Array>[] = [];
      // A text no flight covers yet gets one now, before its lookup is sent, and the flight ends
      // only once the vector is in Redis: a call arriving meanwhile joins it instead of looking up
      // and computing again (a lookup sent before this call's write and answered after a flight
      // that covered only the computation would have computed the text a second time).
      const mine = new Map<string, { text: string; flight: PromiseWithResolvers<Float32Array> }>();
      cacheKeys.forEach((key, i) => {
        const running = flights.get(key);
        if (running) {
          vectors[i] = running;
          return;
        }
        const flight = Promise.withResolvers<Float32Array>();
        // Callers observe a failure through their own `vectors`; the flight's copy must not count as unhandled.
        flights.run(key, () => flight.promise).catch(() => undefined);
        mine.set(key, { text: texts[i] as string, flight });
        vectors[i] = flight.promise;
      });
      if (mine.size > 0) await lookUpAndCompute([...mine.entries()], embedOptions);
      return Promise.all(vectors);
    },
  };

  /** Settles every flight of `entries`: from Redis when stored, else from one provider call. */
  async function lookUpAndCompute(
    entries: [string, { text: string; flight: PromiseWithResolvers<Float32Array> }][],
    embedOptions: { signal?: AbortSignal } | undefined,
  ): Promise<void> {
    try {
      const found = await lookup(entries.map(([key]) => key));
      const missing: typeof entries = [];
      entries.forEach((entry, i) => {
        const bytes = found[i];
        if (bytes && bytes.length % 4 === 0 && bytes.length > 0) {
          stats.hits += 1;
          entry[1].flight.resolve(toFloat32(bytes));
        } else missing.push(entry);
      });
      stats.misses += missing.length;
      if (missing.length === 0) return;
      const computed = await provider.embed(
        missing.map(([, entry]) => entry.text),
        embedOptions,
      );
      const write = redis.pipeline();
      missing.forEach(([key], j) => {
        const vector = computed[j];
        if (vector)
          write.set(key, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength), 'EX', ttlSeconds);
      });
      // Awaited (within the budget) so that whoever the caller tells next, and every call arriving
      // after the flights end, finds them cached.
      await guarded(breaker, timeoutMs, () => write.exec()).catch((error: unknown) => {
        stats.errors += 1;
        onError(error instanceof Error ? error : new Error(String(error)), 'set');
      });
      missing.forEach(([, entry], j) => {
        const vector = computed[j];
        if (vector) entry.flight.resolve(vector);
        else entry.flight.reject(new Error(`embedding provider returned no vector for text ${j}`));
      });
    } catch (error) {
      // Settling twice is a no-op: this rejects only the flights still open.
      for (const [, entry] of entries) entry.flight.reject(error);
    }
  }
}

/** Copies the bytes into an aligned Float32Array (Redis buffers are not guaranteed aligned). */
function toFloat32(bytes: Buffer): Float32Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}
