import {
  DEFAULT_COLLECTION,
  isTerminal,
  type Keys,
  type ToolHandler,
  type ToolHandlers,
  type ToolInput,
} from '@hopper/contracts';
import { inSpan } from '@hopper/telemetry';
import type { Tracer } from '@opentelemetry/api';
import { canonicalJson, hashOf } from './canonical.ts';
import { ALL_COLLECTIONS, type Epochs } from './epochs.ts';
import type { HotQueries } from './hot-queries.ts';
import type { CacheHit, CacheLayer, ResultCache } from './result-cache.ts';

export interface CachedToolsDeps {
  cache: ResultCache;
  epochs: Epochs;
  hot: HotQueries;
  keys: Keys;
  tracer: Tracer;
  /** How long each kind of answer is kept (see ResultCacheSettings in apps/gateway/src/config.ts). */
  ttlSeconds: { search: number; documents: number; jobs: number };
}

/** The tools cached under their collection's epoch. */
export type EpochCachedTool = 'search' | 'get_document' | 'list_documents' | 'list_chunks';
type Cacheable = EpochCachedTool;
/** The tools the MCP fast path can answer from the cache: the epoch-cached ones and finished jobs. */
export type FastCachedTool = EpochCachedTool | 'get_job';

const collectionOf: { [N in Cacheable]: (input: ToolInput<N>) => string } = {
  search: (input) => input.collection ?? DEFAULT_COLLECTION,
  get_document: (input) => input.collection ?? DEFAULT_COLLECTION,
  list_documents: (input) => input.collection ?? ALL_COLLECTIONS,
  list_chunks: (input) => input.collection ?? DEFAULT_COLLECTION,
};

/** `collectionOf` for a tool known only as one of them (its input parsed by that tool's schema). */
const collectionOfAny = collectionOf as Record<Cacheable, (input: ToolInput<Cacheable>) => string>;

/** A cached answer found without computing anything. */
export interface CachedAnswer {
  /** The answer as the tool returns it on a hit (`cached: true`, `cacheLayer`). */
  output: object;
  /** The entry's key and value as the result cache holds them (for `ResultCache.rendered`). */
  key: string;
  value: object;
  layer: CacheLayer;
}

/** A lookup that missed: the key it missed, for the call's `cacheMiss` (see `CallContext`). */
export interface CacheMiss {
  key: string;
}

/**
 * Looks a call up in the result cache without computing anything on a miss: the same key (tenant,
 * tool, the collection's epoch read now, canonical arguments; for `get_job`, the job and its run) as
 * `withResultCache`, so a write is never hidden. A miss is not counted and answers the key it
 * missed: the caller sends the call on to the tool chain with that key as its `cacheMiss`, and
 * `withResultCache` computes it under that key without looking it up in Redis again (and counts
 * the miss). An epoch that cannot be read is `undefined`. A hit counts as a hit, and a hit of
 * `search` as demand for warming.
 */
export type CacheLookup = <N extends FastCachedTool>(
  tool: N,
  input: ToolInput<N>,
  call: { tenant: string },
) => Promise<CachedAnswer | CacheMiss | undefined>;

export function createCacheLookup(
  deps: Pick<CachedToolsDeps, 'cache' | 'epochs' | 'hot' | 'keys'>,
): CacheLookup {
  const { cache, epochs, hot, keys } = deps;
  return async (generic, input, call) => {
    // Not the generic `N`, so that checking it narrows it.
    const tool: FastCachedTool = generic;
    let key: string;
    let demand: (() => void) | undefined;
    if (tool === 'get_job') {
      const { jobId } = input as ToolInput<'get_job'>;
      const run = await epochs.jobRun(call.tenant, jobId);
      if (run === undefined) return undefined;
      key = jobKey(keys, call.tenant, jobId, run);
    } else {
      const collection = collectionOfAny[tool](input as ToolInput<Cacheable>);
      const args = canonicalJson(input);
      const epoch = await epochs.current(call.tenant, collection);
      if (epoch === undefined) return undefined;
      key = keys.cachedResult(call.tenant, tool, String(epoch), hashOf(args));
      if (tool === 'search') demand = () => hot.record(call.tenant, collection, args);
    }
    const hit = await cache.peek<object>(key);
    if (!hit?.layer) return { key };
    demand?.();
    return { output: withCacheInfo(hit), key, value: hit.value, layer: hit.layer };
  };
}

/**
 * A finished job's entry. A run never changes once finished, but an ingest that failed, was
 * cancelled or whose document went away runs again under the same id: the run count (bumped
 * before the re-run is acknowledged) is in the key, as an epoch is in a collection's.
 */
const jobKey = (keys: Keys, tenant: string, jobId: string, run: number) =>
  keys.cachedResult(tenant, 'get_job', `run-${run}`, hashOf(jobId));

/**
 * Puts the result cache in front of the read-only tools. Each answer is cached under the tenant,
 * the tool, its canonical arguments and the epoch of the collection it reads, so a write anywhere
 * in that collection makes every older entry unreachable at once, on every replica.
 * Finished jobs never change (until the same ingest runs again: see `jobKey`), so `get_job` caches
 * them under their run count instead of an epoch (and nothing else).
 */
export function withResultCache(handlers: ToolHandlers, deps: CachedToolsDeps): ToolHandlers {
  const { cache, epochs, hot, keys, ttlSeconds, tracer } = deps;

  /** A lookup (and, on a miss, the computation under it) as one span saying where the answer came from. */
  const lookup = <T>(tool: string, key: string, run: () => Promise<CacheHit<T>>) =>
    inSpan(tracer, 'cache.lookup', { 'hopper.cache.tool': tool }, async (span) => {
      const hit = await run();
      span.setAttribute('hopper.cache.layer', hit.layer ?? 'miss');
      return hit;
    });

  function viaEpoch<N extends Cacheable>(tool: N, ttl: number): ToolHandler<N> {
    const handler = handlers[tool] as ToolHandler<N>;
    return async (input, call) => {
      const collection = collectionOf[tool](input);
      const args = canonicalJson(input);
      if (tool === 'search' && !call.background) hot.record(call.tenant, collection, args);
      // The fast path's key, when it has just missed: its epoch was read for this call.
      const missed = call.cacheMiss?.tool === tool ? call.cacheMiss.key : undefined;
      let key = missed;
      if (key === undefined) {
        const epoch = await epochs.current(call.tenant, collection);
        if (epoch === undefined) return { ...(await handler(input, call)), cached: false };
        key = keys.cachedResult(call.tenant, tool, String(epoch), hashOf(args));
      }
      const hit = await cache.getOrCompute(key, ttl, () => handler(input, call), {
        distributed: tool === 'search',
        missed: missed !== undefined,
      });
      return withCacheInfo(hit);
    };
  }

  const getJob: ToolHandler<'get_job'> = async (input, call) => {
    // The fast path's key, when it has just missed: its run count was read for this call.
    const missed = call.cacheMiss?.tool === 'get_job' ? call.cacheMiss.key : undefined;
    let key = missed;
    if (key === undefined) {
      const run = await epochs.jobRun(call.tenant, input.jobId);
      if (run === undefined) return { ...(await handlers.get_job(input, call)), cached: false };
      key = jobKey(keys, call.tenant, input.jobId, run);
    }
    const found = key;
    const hit = await lookup('get_job', found, () =>
      cache.getOrCompute(found, ttlSeconds.jobs, () => handlers.get_job(input, call), {
        cacheable: (job) => isTerminal(job.state),
        missed: missed !== undefined,
      }),
    );
    return withCacheInfo(hit);
  };

  return {
    ...handlers,
    search: viaEpoch('search', ttlSeconds.search),
    get_document: viaEpoch('get_document', ttlSeconds.documents),
    list_documents: viaEpoch('list_documents', ttlSeconds.documents),
    list_chunks: viaEpoch('list_chunks', ttlSeconds.documents),
    get_job: getJob,
  };
}

function withCacheInfo<T extends object>(
  hit: CacheHit<T>,
): T & { cached: boolean; cacheLayer?: 'l1' | 'l2' } {
  return hit.layer ? { ...hit.value, cached: true, cacheLayer: hit.layer } : { ...hit.value, cached: false };
}
