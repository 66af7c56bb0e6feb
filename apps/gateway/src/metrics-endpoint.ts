import type { Queue } from 'bullmq';
import type { CacheStats, EmbeddingCacheStats } from '@hopper/cache';
import { withTimeout } from '@hopper/lifecycle';
import type { Metrics } from '@hopper/telemetry';

export interface MetricsSources {
  metrics: Metrics;
  queues: Queue[];
  cacheStats: () => CacheStats;
  embeddingCacheStats: () => EmbeddingCacheStats;
  /** Requests being served (the load shedder's count). */
  inflight: () => number;
}

/**
 * How long a scrape waits for queue figures. BullMQ's connection queues commands while Redis is
 * away (it never gives up on them), so without a bound a scrape during an outage would hang.
 */
const QUEUE_FIGURES_TIMEOUT_MS = 1_000;
/** Waiting jobs looked at for the oldest one's age (see syncQueues). */
const OLDEST_SCAN = 100;

/**
 * What `/metrics` answers: the registry's text after bringing the gauges that are read rather than
 * pushed up to date (queue depth and backlog age from Redis, cache counters from the caches' own
 * tallies, as deltas since the previous scrape, requests in flight).
 */
export function createMetricsEndpoint(
  sources: MetricsSources,
): () => Promise<{ contentType: string; body: string }> {
  const { metrics } = sources;
  let lastCache: CacheStats | undefined;
  let lastEmbedding: EmbeddingCacheStats | undefined;

  const counted = (label: { cache: string; layer: string; result: string }, now: number, before = 0) => {
    if (now > before) metrics.cacheRequests.inc(label, now - before);
  };

  async function syncQueues(): Promise<void> {
    await Promise.all(
      sources.queues.map(async (queue) => {
        const counts = await queue.getJobCounts(
          'waiting',
          'prioritized',
          'delayed',
          'active',
          'completed',
          'failed',
        );
        for (const [state, count] of Object.entries(counts))
          metrics.queueJobs.set({ queue: queue.name, state }, count);
        // Jobs run in fair order between tenants (libs/jobs, fairPriority), not by age, so the
        // oldest waiting job is not necessarily first in line: it is looked for among the next
        // OLDEST_SCAN in line, where a tenant's oldest job is unless hundreds of others are ahead.
        const next = (await queue.getJobs(['wait', 'prioritized'], 0, OLDEST_SCAN - 1, true)).filter(Boolean);
        const oldest = Math.min(...next.map((job) => job.timestamp));
        metrics.queueOldestWaitingAge.set(
          { queue: queue.name },
          next.length > 0 ? (Date.now() - oldest) / 1000 : 0,
        );
      }),
    );
  }

  function syncCaches(): void {
    const cache = sources.cacheStats();
    counted({ cache: 'result', layer: 'l1', result: 'hit' }, cache.l1.hits, lastCache?.l1.hits);
    counted({ cache: 'result', layer: 'l1', result: 'miss' }, cache.l1.misses, lastCache?.l1.misses);
    counted({ cache: 'result', layer: 'l2', result: 'hit' }, cache.l2.hits, lastCache?.l2.hits);
    counted({ cache: 'result', layer: 'l2', result: 'miss' }, cache.l2.misses, lastCache?.l2.misses);
    if (cache.l2.errors > (lastCache?.l2.errors ?? 0)) {
      metrics.cacheErrors.inc({ cache: 'result' }, cache.l2.errors - (lastCache?.l2.errors ?? 0));
    }
    lastCache = cache;
    const embedding = sources.embeddingCacheStats();
    counted({ cache: 'embedding', layer: 'l2', result: 'hit' }, embedding.hits, lastEmbedding?.hits);
    counted({ cache: 'embedding', layer: 'l2', result: 'miss' }, embedding.misses, lastEmbedding?.misses);
    if (embedding.errors > (lastEmbedding?.errors ?? 0)) {
      metrics.cacheErrors.inc({ cache: 'embedding' }, embedding.errors - (lastEmbedding?.errors ?? 0));
    }
    lastEmbedding = embedding;
  }

  return async () => {
    syncCaches();
    metrics.inflightRequests.set(sources.inflight());
    // A scrape during a Redis outage still answers, without fresh queue figures.
    await withTimeout(syncQueues(), QUEUE_FIGURES_TIMEOUT_MS).catch(() => undefined);
    return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
  };
}
