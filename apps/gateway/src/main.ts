import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createKeys } from '@hopper/contracts';
import {
  CacheWarmer,
  Epochs,
  createCacheLookup,
  HotQueries,
  ResultCache,
  withEmbeddingCache,
  withoutEmbeddingCache,
  withResultCache,
} from '@hopper/cache';
import { createEmbeddingProvider, withMicroBatching } from '@hopper/embeddings';
import { Closer, rateLimited, runService, type Logger } from '@hopper/lifecycle';
import {
  FINISHED_JOB_TTL_SECONDS,
  JobRecords,
  JobsService,
  ProgressSubscriber,
  closeQueues,
  createQueues,
} from '@hopper/jobs';
import {
  CircuitBreaker,
  RedisCommitClock,
  RedisDocumentListing,
  RedisDocumentRecords,
  TokenBucket,
  closeRedis,
  createRedis,
} from '@hopper/redis';
import { openStoreReader, type DocumentRecord } from '@hopper/store';
import { createMetrics, startTracing, timeRedisCommands, traced } from '@hopper/telemetry';
import { loadConfig, type GatewayConfig } from './config.ts';
import { createHttpServer } from './http-server.ts';
import { LegacySessions } from './mcp/legacy-sessions.ts';
import { createMcpEndpoint, nodeMcpHandler } from './mcp/node-adapter.ts';
import { createServerFactory } from './mcp/server-factory.ts';
import { createMetricsEndpoint } from './metrics-endpoint.ts';
import { createToolHandlers } from './tools/index.ts';
import { callRecorder, instrumentHandlers } from './tools/instrumented.ts';
import { createFastPath } from './mcp/fast-path.ts';
import { createJobTasks } from './mcp/job-tasks.ts';
import { createTaskPath } from './mcp/task-path.ts';
import { createListenStreams } from './mcp/listen-path.ts';
import { withRateLimit } from './tools/rate-limited.ts';
import { tenantRateLimit } from './tenant-rate-limit.ts';
import { LoadShedder } from './load-shedder.ts';
import { createPageHandler } from './page/page-handler.ts';
import { attachRealtime } from './realtime/realtime-server.ts';
import { createRestHandler } from './rest/rest-handler.ts';
import { createOAuthVerifiers } from './auth/oauth-verifiers.ts';
import { protectedResource } from './auth/protected-resource.ts';
import { bearerTenantResolver, localTenantResolver } from './tenant-resolver.ts';
import { PathReads } from './tools/path-reads.ts';

const VERSION = '0.1.0';

/** How long SIGTERM lets in-flight requests and progress streams finish before closing them. */
const DRAIN_MS = 10_000;

async function startGateway(config: GatewayConfig, logger: Logger): Promise<Closer> {
  const closer = new Closer();
  const tracing = startTracing({
    serviceName: 'hopper-gateway',
    serviceVersion: VERSION,
    export: config.exportTraces,
  });
  closer.add('tracing', () => tracing.shutdown());
  const { tracer } = tracing;
  const metrics = createMetrics('gateway');
  const keys = createKeys(config.redisPrefix);
  const onError = (error: Error) => logger.warn({ err: error }, 'redis connection error; reconnecting');
  const redis = createRedis(config.redisUrl, { name: 'gateway', role: 'command', onError });
  closer.add('redis', () => closeRedis(redis));
  const subscriber = createRedis(config.redisUrl, { name: 'gateway', role: 'subscriber', onError });
  closer.add('redis subscriber', () => closeRedis(subscriber));
  const bullConnection = createRedis(config.redisUrl, { name: 'gateway', role: 'bullmq', onError });
  closer.add('bullmq connection', () => closeRedis(bullConnection));

  // The listing and the record copies only spare the store work: their reads are bounded like the
  // cache's (one breaker for both), and the store answers when Redis does not.
  const storeLookups = { breaker: new CircuitBreaker(), timeoutMs: config.cache.timeoutMs };
  // The gateway only reads the store (a StoreReader has no write methods); a zero consistency
  // interval makes every read see the worker's latest commit (the worker is the writer side).
  const store = traced(
    await openStoreReader({
      uri: config.storeUri,
      readConsistencyIntervalSeconds: 0,
      indexCacheBytes: config.storeCache.indexBytes,
      metadataCacheBytes: config.storeCache.metadataBytes,
      // list_documents pages through the workers' listing in the queue's Redis (never evicted).
      listing: new RedisDocumentListing(redis, keys, { reads: storeLookups }),
      // get_document and list_documents pages read the workers' copies of the records (one HMGET),
      // and the store only for documents without a servable copy.
      recordCopies: new RedisDocumentRecords<DocumentRecord>(redis, keys, { reads: storeLookups }),
      // A search asks the workers' commit clock (one HMGET) whether the mirror may lack a commit.
      commitClock: new RedisCommitClock(redis, keys, { reads: storeLookups }),
      onSearch: (engine: 'mirror' | 'lancedb') => metrics.storeSearches.inc({ engine }),
      // Searches from memory, when turned on (HOPPER_SEARCH_MIRROR_MAX_CHUNKS); LanceDB otherwise.
      ...(config.searchMirrorMaxChunks > 0
        ? {
            searchMirror: {
              maxRows: config.searchMirrorMaxChunks,
              onReady: (stats: { rows: number; ms: number }) => logger.info(stats, 'search mirror loaded'),
              onOff: (reason: string) =>
                logger.warn({ reason }, 'search mirror off; LanceDB answers searches'),
              onError: (error: unknown) =>
                logger.warn({ err: error }, 'search mirror could not read the store'),
              onSize: ({ rows, bytes }: { rows: number; bytes: number }) => {
                metrics.searchMirrorRows.set(rows);
                metrics.searchMirrorBytes.set(bytes);
              },
              onUpdate: (source: 'note' | 'tables') => metrics.searchMirrorUpdates.inc({ source }),
            },
          }
        : {}),
    }),
    tracer,
    'store',
    ['search', 'getDocument', 'listDocuments'],
  );
  metrics.measureStoreCache(() => store.cacheUsage().bytes);
  closer.add('store', () => store.close());
  // The cache may live in its own Redis (it may evict; the queue's must not). Its epochs and their
  // announcements live there too, so readers and writers always agree on them.
  const cacheRedis = config.cache.redisUrl
    ? createRedis(config.cache.redisUrl, { name: 'gateway-cache', role: 'command', onError })
    : redis;
  const cacheSubscriber = config.cache.redisUrl
    ? createRedis(config.cache.redisUrl, { name: 'gateway-cache', role: 'subscriber', onError })
    : subscriber;
  if (cacheRedis !== redis) closer.add('cache redis', () => closeRedis(cacheRedis));
  if (cacheSubscriber !== subscriber) closer.add('cache subscriber', () => closeRedis(cacheSubscriber));
  const onCacheError = rateLimited(10_000, (error: Error, operation: string, suppressed: number) =>
    logger.warn({ err: error, operation, suppressed }, 'cache call failed; answering without the cache'),
  );
  // One breaker for every user of the cache's Redis: an outage opens it for all of them at once.
  const cacheBreaker = new CircuitBreaker();
  const provider = createEmbeddingProvider(config.embeddings);
  const tracedProvider = traced(provider, tracer, 'embeddings', ['embed']);
  // A remote provider's round trip dwarfs a millisecond's wait: concurrent query embeddings share
  // one request. The builtin embedder computes in-process, where batching would only add delay.
  const batched =
    config.embeddings.provider === 'openai'
      ? withMicroBatching(tracedProvider, {
          windowMs: config.embeddingsBatchWindowMs,
          maxTexts: config.embeddings.batchSize ?? 64,
        })
      : tracedProvider;
  // The builtin embedder computes faster than Redis answers: its vectors are not cached.
  const embedder =
    config.embeddings.provider === 'builtin'
      ? withoutEmbeddingCache(batched)
      : withEmbeddingCache(batched, {
          space: `${provider.model}@${config.embeddings.dimensions ?? 'native'}`,
          breaker: cacheBreaker,
          redis: cacheRedis,
          keys,
          ttlSeconds: config.cache.ttlSeconds.embeddings,
          timeoutMs: config.cache.timeoutMs,
          onError: onCacheError,
        });
  const cache = new ResultCache({
    breaker: cacheBreaker,
    redis: cacheRedis,
    keys,
    l1MaxBytes: config.cache.l1MaxBytes,
    l1TtlMs: config.cache.l1TtlMs,
    timeoutMs: config.cache.timeoutMs,
    onError: onCacheError,
  });
  const epochs = new Epochs({
    redis: cacheRedis,
    keys,
    timeoutMs: config.cache.timeoutMs,
    breaker: cacheBreaker,
    onError: onCacheError,
  });
  await epochs.listen(cacheSubscriber);
  const hot = new HotQueries(cacheRedis, keys);
  closer.add('hot queries', () => hot.flush());
  const records = new JobRecords(redis, keys);
  const progress = new ProgressSubscriber(subscriber, records, keys, (event) =>
    metrics.progressLag.observe(Math.max(0, Date.now() - event.ts) / 1000),
  );
  for (const client of new Set([redis, cacheRedis])) timeRedisCommands(client, metrics.redisCommandDuration);
  closer.add('progress subscriber', () => progress.close());

  const queues = createQueues(bullConnection, keys, (error, queue) =>
    logger.warn({ err: error, queue }, 'queue connection error'),
  );
  closer.add('queues', () => closeQueues(queues));

  const draining = new AbortController();
  const jobs = new JobsService({
    redis,
    keys,
    records,
    queues,
    progress,
    documents: store,
    logger,
    tracer,
    limits: config.limits,
    onRefused: (limit) => metrics.limitRefusals.inc({ limit }),
    // The count outlives the job's record and the cached answers of every run it counts. Without
    // the cache's Redis the re-run goes ahead (its cached reads are off meanwhile anyway).
    onRerun: (tenant, jobId) =>
      epochs
        .bumpJobRun(tenant, jobId, FINISHED_JOB_TTL_SECONDS + config.cache.ttlSeconds.jobs)
        .catch((error: unknown) => onCacheError(error as Error, 'job run bump')),
  });
  const legacy = new LegacySessions({ redis, keys, jobs, logger });
  const cached = withResultCache(
    createToolHandlers({
      redis,
      keys,
      jobs,
      store,
      embedder,
      logger,
      legacy,
      shutdown: draining.signal,
      ingestRoots: config.ingestRoots,
      pathReads: new PathReads(config.limits.pathReads, () =>
        metrics.limitRefusals.inc({ limit: 'path_reads' }),
      ),
    }),
    {
      cache,
      epochs,
      hot,
      keys,
      tracer,
      ttlSeconds: config.cache.ttlSeconds,
    },
  );
  const { rateLimit } = config.limits;
  // One charge for tool calls and Socket.IO events: a tenant has one budget, however it asks.
  const chargeTenant = rateLimit
    ? tenantRateLimit({
        bucket: new TokenBucket({ redis, keys, ratePerSecond: rateLimit.perSecond, burst: rateLimit.burst }),
        ...rateLimit,
        breaker: new CircuitBreaker(),
        timeoutMs: config.cache.timeoutMs,
        onError: rateLimited(10_000, (error: Error, suppressed: number) =>
          logger.warn(
            { err: error, suppressed },
            'rate limiter unavailable; letting calls through unchecked',
          ),
        ),
        metrics,
      })
    : undefined;
  // Charged before the cache: a cached answer costs the gateway too.
  const limited = chargeTenant ? withRateLimit(cached, chargeTenant) : cached;
  // Timing is outermost, so a call's duration includes the cache.
  const instrumentOptions = { metrics, logger, slowCallMs: config.slowCallMs };
  const handlers = instrumentHandlers(limited, instrumentOptions);
  const warmer = new CacheWarmer({
    handlers,
    epochs,
    hot,
    redis: cacheRedis,
    keys,
    logger,
    top: config.cache.warmTop,
  });
  warmer.start();
  closer.add('cache warmer', () => warmer.close());
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const mcp = createMcpEndpoint(
    createServerFactory({
      handlers,
      logger,
      tenant: config.tenant,
      version: pkg.version,
      tracer,
      finishedJobTtlMs: config.cache.ttlSeconds.jobs * 1000,
    }),
    logger,
  );
  closer.add('mcp handler', () => mcp.close());

  // One tenant resolution for MCP, REST and Socket.IO: by API key or OAuth access token when either
  // is configured, otherwise the single local tenant, loopback callers only.
  const authenticated = config.apiKeys.length > 0 || config.oauth !== undefined;
  const oauth = config.oauth
    ? createOAuthVerifiers(config.oauth, { apiKeys: config.apiKeys.length > 0, logger })
    : undefined;
  const resolveTenant = authenticated
    ? bearerTenantResolver({
        apiKeys: config.apiKeys,
        ...(oauth ? { jwt: oauth.jwt } : {}),
        ...(oauth?.opaque ? { opaque: oauth.opaque } : {}),
      })
    : localTenantResolver(config.tenant);
  const resource = config.oauth ? protectedResource(config.oauth) : undefined;
  // Authenticated, any Host is answered unless HOPPER_ALLOWED_HOSTS narrows it; if not, loopback names only.
  const allowedHosts =
    authenticated && !config.allowedHosts
      ? undefined
      : new Set(['localhost', '127.0.0.1', '[::1]', config.host, ...(config.allowedHosts ?? [])]);
  const shedder = new LoadShedder({
    maxInflight: config.limits.maxInflight,
    maxEventLoopLagMs: config.limits.maxEventLoopLagMs,
    onShed: (reason) => metrics.shedRequests.inc({ reason }),
  });
  closer.add('load shedder', () => shedder.close());
  // Task status and job resource notifications for 2026-07-28 listeners, fed by the progress
  // subscriber (see mcp/listen-path.ts); closed before the HTTP server, below.
  const listens = createListenStreams({
    jobs,
    progress,
    documents: store,
    bumps: epochs,
    logger,
    serverInfo: { name: 'hopper', version: pkg.version },
    limits: config.limits.subscriptions,
    ...(resource ? { resourceMetadataUrl: resource.metadataUrl } : {}),
  });
  const server = createHttpServer({
    mcp: nodeMcpHandler(mcp),
    legacy,
    readiness: [
      { name: 'redis', check: async () => void (await redis.ping()) },
      { name: 'store', check: () => store.ping() },
    ],
    resolveTenant,
    ...(resource ? { protectedResource: resource } : {}),
    logger,
    allowedHosts,
    metrics: createMetricsEndpoint({
      metrics,
      queues: Object.values(queues),
      cacheStats: () => cache.stats(),
      embeddingCacheStats: () => embedder.stats(),
      inflight: () => shedder.inflight,
    }),
    rest: createRestHandler({
      handlers,
      resolveTenant,
      allowedHosts,
      logger,
      version: pkg.version,
      ...(resource ? { resourceMetadataUrl: resource.metadataUrl } : {}),
    }),
    page: createPageHandler({ dir: fileURLToPath(new URL('../../web/dist/', import.meta.url)), logger }),
    shedder,
    // Jobs as MCP tasks for clients that declare the extension (see mcp/task-path.ts).
    taskPath: createTaskPath({
      source: createJobTasks({ handlers, jobs, logger }),
      logger,
      serverInfo: { name: 'hopper', version: pkg.version },
      ...(resource ? { resourceMetadataUrl: resource.metadataUrl } : {}),
    }),
    listenPath: listens.serve,
    // The read-only tools' calls answered without the SDK: hits with the same rate limit, timing
    // and tracing as the chain above gives every call, misses by that chain (see mcp/fast-path.ts).
    ...(config.mcpFastPath
      ? {
          fastPath: createFastPath({
            lookup: createCacheLookup({ cache, epochs, hot, keys }),
            handlers,
            cache,
            ...(chargeTenant ? { charge: chargeTenant } : {}),
            record: callRecorder(instrumentOptions),
            tracer,
            serverInfo: { name: 'hopper', version: pkg.version },
          }),
        }
      : {}),
  });
  const realtime = attachRealtime(server, {
    subscriber,
    records,
    progress,
    keys,
    cancel: async (tenant, jobId) => (await jobs.cancel(tenant, jobId)).job,
    resolveTenant,
    allowedHosts,
    eventLimit: config.limits.socketRateLimit,
    chargeTenant,
    metrics,
    logger,
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  closer.add('http server', async () => {
    // Stop accepting; let running calls and progress streams finish within the drain budget. Calls
    // still waiting then answer with their job handle, and connections close shortly after.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // The launcher turns this into its plain "waiting up to 10 s for N running calls" line.
    logger.info({ running: shedder.inflight, drainMs: DRAIN_MS }, 'draining running calls');
    const answer = setTimeout(() => draining.abort(), DRAIN_MS);
    const cut = setTimeout(() => server.closeAllConnections(), DRAIN_MS + 2_000);
    await closed;
    clearTimeout(answer);
    clearTimeout(cut);
  });
  // Registered after the HTTP server so it runs first: open sockets would hold the server's close.
  closer.add('socket.io', () => realtime.close());
  // Likewise: an open listen stream is a response the server's close would wait for. Each ends with
  // the spec's graceful close (the listen request's result) and unsubscribes its jobs' channels.
  closer.add('subscriptions', () => listens.close());

  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  if (!authenticated) {
    logger.warn(
      'no authentication configured (HOPPER_API_KEYS, HOPPER_OAUTH_ISSUER): serving loopback callers only, as the single tenant "local"',
    );
  }
  logger.info({ url: `http://${host}:${port}/mcp`, port, model: embedder.model }, 'gateway listening');
  return closer;
}

await runService({ name: 'gateway', loadConfig: () => loadConfig(process.env), start: startGateway });
