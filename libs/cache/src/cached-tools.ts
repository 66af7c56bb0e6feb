import {
  DEFAULT_COLLECTION,
  isTerminal,
  type CacheSettings,
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
import type { CacheHit, ResultCache } from './result-cache.ts';

export interface CachedToolsDeps {
  cache: ResultCache;
  epochs: Epochs;
  hot: HotQueries;
  keys: Keys;
  tracer: Tracer;
  ttlSeconds: CacheSettings['ttlSeconds'];
}

type Cacheable = 'search' | 'get_document' | 'list_documents';

/**
 * Puts the result cache in front of the read-only tools. Each answer is cached under the tenant,
 * the tool, its canonical arguments and the epoch of the collection it reads, so a write anywhere
 * in that collection makes every older entry unreachable at once, on every replica.
 * Finished jobs never change, so `get_job` caches them without an epoch (and nothing else).
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

  function viaEpoch<N extends Cacheable>(
    tool: N,
    collectionOf: (input: ToolInput<N>) => string,
    ttl: number,
  ): ToolHandler<N> {
    const handler = handlers[tool] as ToolHandler<N>;
    return async (input, call) => {
      const collection = collectionOf(input);
      const args = canonicalJson(input);
      if (tool === 'search' && !call.background) hot.record(call.tenant, collection, args);
      const epoch = await epochs.current(call.tenant, collection);
      if (epoch === undefined) return { ...(await handler(input, call)), cached: false };
      const key = keys.cachedResult(call.tenant, tool, String(epoch), hashOf(args));
      const hit = await cache.getOrCompute(key, ttl, () => handler(input, call), {
        distributed: tool === 'search',
      });
      return withCacheInfo(hit);
    };
  }

  const getJob: ToolHandler<'get_job'> = async (input, call) => {
    const key = keys.cachedResult(call.tenant, 'get_job', 'final', hashOf(input.jobId));
    const hit = await lookup('get_job', key, () =>
      cache.getOrCompute(key, ttlSeconds.jobs, () => handlers.get_job(input, call), {
        cacheable: (job) => isTerminal(job.state),
      }),
    );
    return withCacheInfo(hit);
  };

  return {
    ...handlers,
    search: viaEpoch('search', (input) => input.collection ?? DEFAULT_COLLECTION, ttlSeconds.search),
    get_document: viaEpoch(
      'get_document',
      (input) => input.collection ?? DEFAULT_COLLECTION,
      ttlSeconds.documents,
    ),
    list_documents: viaEpoch(
      'list_documents',
      (input) => input.collection ?? ALL_COLLECTIONS,
      ttlSeconds.documents,
    ),
    get_job: getJob,
  };
}

function withCacheInfo<T extends object>(
  hit: CacheHit<T>,
): T & { cached: boolean; cacheLayer?: 'l1' | 'l2' } {
  return hit.layer ? { ...hit.value, cached: true, cacheLayer: hit.layer } : { ...hit.value, cached: false };
}
