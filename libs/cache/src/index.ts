/**
 * Hopper's caches, all in this package:
 *
 * - `ResultCache` (result-cache.ts): answers of read-only tools, L1 in-process LRU and L2 Redis,
 *   with single-flight in the process and across processes;
 * - `Epochs` (epochs.ts): a collection's cache epoch, bumped by every write so older entries are
 *   never read again (nothing is scanned or deleted), with the bump broadcast to every gateway;
 * - `HotQueries` (hot-queries.ts): the most frequent searches per collection, for warming;
 * - `withResultCache` (cached-tools.ts): the result cache in front of the read-only tools, keyed by
 *   tenant, tool, canonical arguments (canonical.ts) and epoch; `createCacheLookup` finds an answer
 *   under the same key without computing one (the gateway's MCP fast path);
 * - `CacheWarmer` (warmer.ts): re-runs a collection's hot searches after a write and at start;
 * - `withEmbeddingCache` (embedding-cache.ts): vectors per tenant, model and text hash (not for the
 *   builtin embedder: `withoutEmbeddingCache`).
 *
 * Keys come from `@hopper/contracts`' `Keys`; Redis calls go through `@hopper/redis`' circuit
 * breaker, so a slow or absent cache Redis costs a caller at most its budget.
 */
export {
  createCacheLookup,
  withResultCache,
  type CacheLookup,
  type CacheMiss,
  type CachedAnswer,
  type CachedToolsDeps,
  type EpochCachedTool,
  type FastCachedTool,
} from './cached-tools.ts';
export {
  withEmbeddingCache,
  withoutEmbeddingCache,
  type Embedder,
  type EmbeddingCacheOptions,
  type EmbeddingCacheStats,
  type TenantEmbedder,
} from './embedding-cache.ts';
export { ALL_COLLECTIONS, Epochs, type EpochBump } from './epochs.ts';
export { HotQueries } from './hot-queries.ts';
export {
  ResultCache,
  type CacheHit,
  type CacheLayer,
  type CacheStats,
  type ResultCacheOptions,
} from './result-cache.ts';
export { CacheWarmer, type WarmerDeps } from './warmer.ts';
