import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets in seconds: fine below 100 ms, where the fast path's promise lives. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const JOB_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Every metric Hopper exports, on one registry per process. Names are API for dashboards and alert
 * rules (infra/prometheus): renaming one breaks them, and a test checks the rules against this list.
 */
export function createMetrics(service: 'gateway' | 'worker') {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  let storeCacheSource: (() => number) | undefined;
  // Process metrics, including nodejs_eventloop_lag_seconds (event-loop lag).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  return {
    registry,
    /** One MCP (or REST) tool call, by tool and outcome. */
    operationDuration: new Histogram({
      name: 'hopper_mcp_operation_duration_seconds',
      help: 'Duration of tool calls (MCP and REST), by tool and outcome',
      labelNames: ['tool', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    /** Cache lookups by cache (result, embedding), layer (l1, l2) and result (hit, miss). */
    cacheRequests: new Counter({
      name: 'hopper_cache_requests_total',
      help: 'Cache lookups by cache, layer and result',
      labelNames: ['cache', 'layer', 'result'] as const,
      registers: [registry],
    }),
    cacheErrors: new Counter({
      name: 'hopper_cache_errors_total',
      help: 'Cache calls that failed or timed out (the answer was computed instead)',
      labelNames: ['cache'] as const,
      registers: [registry],
    }),
    /** Jobs in each queue by state (collected when scraped). */
    queueJobs: new Gauge({
      name: 'hopper_queue_jobs',
      help: 'Jobs in each queue by state',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    /**
     * Age of the oldest waiting job per queue: a backlog that is not draining. Jobs run in fair order
     * between tenants, not by age, so it is the oldest of the next 100 in line.
     */
    queueOldestWaitingAge: new Gauge({
      name: 'hopper_queue_oldest_waiting_age_seconds',
      help: 'Age of the oldest of the next 100 jobs waiting in each queue (0 when none waits)',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'hopper_job_duration_seconds',
      help: 'Duration of job attempts on a worker, by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      buckets: JOB_BUCKETS,
      registers: [registry],
    }),
    /** One group commit of the worker's store writer: documents in it, and how long it took. */
    storeCommitDocuments: new Histogram({
      name: 'hopper_store_commit_documents',
      help: 'Documents written together by one group commit',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    storeCommitDuration: new Histogram({
      name: 'hopper_store_commit_duration_seconds',
      help: 'Duration of one group commit (chunks and document records)',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    /**
     * One maintenance step of the worker's store (compaction with index folding, a vector index
     * build), by table: what keeps reads fast costs this much writer time.
     */
    storeMaintenanceDuration: new Histogram({
      name: 'hopper_store_maintenance_duration_seconds',
      help: 'Duration of one store maintenance step (optimize: compaction and index folding; vector index build), by table',
      labelNames: ['table', 'operation'] as const,
      buckets: JOB_BUCKETS,
      registers: [registry],
    }),
    /** Time from a worker publishing a progress event to a gateway receiving it. */
    progressLag: new Histogram({
      name: 'hopper_progress_lag_seconds',
      help: 'Delay between a worker publishing a progress event and a gateway receiving it',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    redisCommandDuration: new Histogram({
      name: 'hopper_redis_command_duration_seconds',
      help: 'Redis command latency seen by the client, by command',
      labelNames: ['command'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    /** Calls slower than the latency threshold (also logged, with their trace id). */
    slowCalls: new Counter({
      name: 'hopper_slow_calls_total',
      help: 'Tool calls slower than HOPPER_SLOW_CALL_MS',
      labelNames: ['tool'] as const,
      registers: [registry],
    }),
    /**
     * Calls refused by a limit: `rate` (tenant's rate), `tenant_jobs` (its job slots), `queue_depth`,
     * `socket_rate` (a Socket.IO event over its socket's rate).
     */
    limitRefusals: new Counter({
      name: 'hopper_limit_refusals_total',
      help: 'Calls refused as busy because a limit was reached, by limit',
      labelNames: ['limit'] as const,
      registers: [registry],
    }),
    /** Sockets that kept sending events long after being refused, and were disconnected for it. */
    floodedSockets: new Counter({
      name: 'hopper_flooded_sockets_total',
      help: 'Socket.IO connections closed for flooding events past their rate limit',
      registers: [registry],
    }),
    /** Calls let through unchecked because the rate limiter's Redis did not answer (fail open). */
    rateLimiterFailures: new Counter({
      name: 'hopper_rate_limiter_failures_total',
      help: 'Calls let through without a rate-limit check because Redis failed or was slow',
      registers: [registry],
    }),
    /** MCP requests and REST calls a gateway is serving (collected when scraped). */
    inflightRequests: new Gauge({
      name: 'hopper_inflight_requests',
      help: 'MCP requests and REST calls being served, waiting calls included',
      registers: [registry],
    }),
    /** What LanceDB's in-process caches hold (collected when scraped; see `measureStoreCache`). */
    storeCacheBytes: new Gauge({
      name: 'hopper_store_cache_bytes',
      help: "Bytes LanceDB's index and metadata caches hold in this process (bounded by HOPPER_STORE_*_CACHE_MB)",
      registers: [registry],
      collect() {
        if (storeCacheSource) this.set(storeCacheSource());
      },
    }),
    /** Searches by what answered them: the in-memory search mirror, or LanceDB. */
    storeSearches: new Counter({
      name: 'hopper_store_searches_total',
      help: 'Store searches by what answered them: mirror (in memory) or lancedb',
      labelNames: ['engine'] as const,
      registers: [registry],
    }),
    /** Chunks the gateway's search mirror holds in memory (0 while it loads, when off, or without one). */
    searchMirrorRows: new Gauge({
      name: 'hopper_search_mirror_rows',
      help: 'Chunks the in-memory search mirror holds (0 while loading, when off, or without one)',
      registers: [registry],
    }),
    /**
     * How the search mirror took in commits: `note`, a commit applied from its note (the clock's
     * tick); `tables`, a read of the tables (after a large commit, a missed note, or its own
     * follow every second).
     */
    searchMirrorUpdates: new Counter({
      name: 'hopper_search_mirror_updates_total',
      help: 'Commits the search mirror applied from their notes (source=note), and its reads of the tables (source=tables)',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    /** Memory of the search mirror's thread: its V8 heap and the vectors' WebAssembly memory. */
    searchMirrorBytes: new Gauge({
      name: 'hopper_search_mirror_bytes',
      help: "Bytes the search mirror's thread uses: its V8 heap and the vectors' WebAssembly memory",
      registers: [registry],
    }),
    /** Names where `hopper_store_cache_bytes` is read from: the process's store, once it is open. */
    measureStoreCache(source: () => number): void {
      storeCacheSource = source;
    },
    /** Requests a gateway turned away with 503 to stay responsive, by reason (`inflight`, `event_loop_lag`). */
    shedRequests: new Counter({
      name: 'hopper_shed_requests_total',
      help: 'MCP and REST requests answered 503 under overload, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
