import { readdirSync } from 'node:fs';
import os from 'node:os';
import { createKeys, jobCatalog } from '@hopper/contracts';
import { Epochs, withEmbeddingCache, withoutEmbeddingCache } from '@hopper/cache';
import { createEmbeddingProvider } from '@hopper/embeddings';
import { ParserPool } from '@hopper/documents';
import { Closer, rateLimited, runService, type Logger } from '@hopper/lifecycle';
import { JobRecords, JobWorkers, createProcessor, type QueueProcessor } from '@hopper/jobs';
import {
  DocumentWriteLocks,
  RedisCommitClock,
  RedisDocumentListing,
  RedisDocumentRecords,
  closeRedis,
  createRedis,
} from '@hopper/redis';
import { openStoreWriter, type DocumentRecord } from '@hopper/store';
import { createMetrics, serveMetrics, startTracing, timeRedisCommands, traced } from '@hopper/telemetry';
import { loadConfig, type WorkerConfig } from './config.ts';
import { createDeleteHandler } from './delete-handler.ts';
import { createEmbedHandler } from './embed-handler.ts';
import { createBatchHandler } from './batch-handler.ts';
import { ByteBudget } from './byte-budget.ts';
import { createIngestHandler } from './ingest-handler.ts';
import { jobFailures } from './job-failures.ts';

const VERSION = '0.1.0';

/**
 * Documents of one batch in flight at once. A group commit writes what is ready when it starts, so
 * this bounds how many documents one commit can take (the store's own bound is 256): with 32, a
 * commit of SciFact abstracts took 32 documents and the batch ran at the commit's pace.
 */
const BATCH_DOCUMENTS_IN_FLIGHT = 256;

/** Chunks per embedding call: small enough for prompt cancellation, large enough for throughput. */
const EMBED_BATCH = 32;

/**
 * How soon the queue notices a worker that died holding a job (SIGKILL, OOM, a lost node). A job's
 * lock lives LOCK_MS and its worker renews it every LOCK_MS / 2; once a dead worker's lock has
 * expired, the next stalled check (any worker runs one every STALLED_CHECK_MS) puts the job back in
 * the queue. BullMQ's defaults (30 s and 30 s) left a killed worker's job untouched for a minute
 * (measured: 60 s); these make it 5-15 s. The lock must outlast the longest event-loop stall of a
 * healthy worker (a large document parsed in one go), or a live job is taken from its worker: a
 * worker survives ~5 s of stall, and one that loses a lock anyway stops the job (below).
 */
const LOCK_MS = 10_000;
const STALLED_CHECK_MS = 5_000;
/**
 * How often a worker checks that the document listing and the record copies are complete (one
 * EXISTS each when they are).
 */
const STORE_SYNC_MS = 10_000;

/**
 * Bumps a collection's cache epoch after a write, retrying briefly: until it succeeds, gateways
 * holding cached answers for the collection cannot know they are outdated.
 */
async function bumpEpoch(epochs: Epochs, tenant: string, collection: string, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await epochs.bump(tenant, collection);
      return;
    } catch (error) {
      if (attempt >= 3) {
        logger.error(
          { err: error, tenant, collection },
          'could not bump the cache epoch; cached reads may be stale until their TTL',
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }
}

/**
 * Lowers the priority of every thread of the worker. On Linux nice is per thread, and a new thread
 * takes its creator's: lowering only the main thread left 35 of the worker's 38 threads at 0 (the
 * store's thread pools, started at import, and the threads they start), so LanceDB's commits and
 * compactions competed with the gateway's reads as equals. So each thread listed in
 * `/proc/self/task` is lowered; the threads they start later inherit it. Elsewhere the process's
 * priority is set, which there covers its threads.
 */
function lowerPriority(nice: number, logger: Logger): void {
  if (nice === 0) return;
  let threads: number[] = [0];
  try {
    threads = readdirSync('/proc/self/task').map(Number);
  } catch {
    // Not Linux: pid 0, the process.
  }
  let lowered = 0;
  for (const thread of threads) {
    try {
      if (os.getPriority(thread) < nice) os.setPriority(thread, nice);
      lowered++;
    } catch (error) {
      // A thread that ended since the listing.
      logger.debug({ err: error, thread }, 'could not lower one thread');
    }
  }
  if (lowered === 0) logger.warn({ nice }, 'could not lower the worker priority; running at the default');
}

async function startWorker(config: WorkerConfig, logger: Logger): Promise<Closer> {
  lowerPriority(config.nice, logger);
  const closer = new Closer();
  // V8's heap flag is process-wide and overrides a worker thread's own resourceLimits: with it,
  // a document's parse thread may grow to the flag's size instead of HOPPER_WORKER_PARSE_HEAP_MB.
  const heapFlag = [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].find((arg) =>
    arg.includes('--max-old-space-size'),
  );
  if (heapFlag !== undefined) {
    logger.warn(
      { flag: heapFlag, parseHeapMb: config.parseSandbox.maxHeapMb },
      '--max-old-space-size is set: it also raises the parse thread heap cap above HOPPER_WORKER_PARSE_HEAP_MB',
    );
  }
  const tracing = startTracing({
    serviceName: 'hopper-worker',
    serviceVersion: VERSION,
    export: config.exportTraces,
  });
  closer.add('tracing', () => tracing.shutdown());
  const metrics = createMetrics('worker');
  const keys = createKeys(config.redisPrefix);
  const onError = (error: Error) => logger.warn({ err: error }, 'redis connection error; reconnecting');
  const redis = createRedis(config.redisUrl, { name: 'worker', role: 'command', onError });
  closer.add('redis', () => closeRedis(redis));
  const subscriber = createRedis(config.redisUrl, { name: 'worker', role: 'subscriber', onError });
  closer.add('redis subscriber', () => closeRedis(subscriber));
  const bullConnection = createRedis(config.redisUrl, { name: 'worker', role: 'bullmq', onError });
  closer.add('bullmq connection', () => closeRedis(bullConnection));

  // Store and embedding calls are the slow steps of a job: each gets its own span.
  const store = traced(
    await openStoreWriter({
      uri: config.storeUri,
      indexCacheBytes: config.storeCache.indexBytes,
      metadataCacheBytes: config.storeCache.metadataBytes,
      // Several workers may write one store: each document is written by one of them at a time.
      documentLocks: new DocumentWriteLocks(redis, keys),
      // The ordered index list_documents reads, kept beside each commit (see syncFromStore below).
      listing: new RedisDocumentListing(redis, keys),
      // Copies of the committed records, from which gateways answer reads by key.
      recordCopies: new RedisDocumentRecords<DocumentRecord>(redis, keys),
      // Ticked after each commit, so gateways' searches know when their mirror must read the tables.
      commitClock: new RedisCommitClock(redis, keys),
      onCommit: ({ documents, ms }) => {
        metrics.storeCommitDocuments.observe(documents);
        metrics.storeCommitDuration.observe(ms / 1000);
      },
      onMaintenance: ({ table, operation, ms, rows, fragments }) => {
        metrics.storeMaintenanceDuration.observe({ table, operation }, ms / 1000);
        logger.debug({ table, operation, ms: Math.round(ms), rows, fragments }, 'store maintenance');
      },
      // Index builds and compaction run in the background; their failures must still be seen.
      onMaintenanceError: (error, operation) =>
        logger.warn({ err: error, operation }, 'store maintenance failed'),
    }),
    tracing.tracer,
    'store',
    ['replaceDocument', 'deleteDocument'],
  );
  metrics.measureStoreCache(() => store.cacheUsage().bytes);
  closer.add('store', () => store.close());
  // The listing is built from the store when Redis does not hold a complete one (a new deployment,
  // a store from before it, a Redis that lost it); until then list_documents sorts the store.
  // The same for the copies of the records (a store from before them, a Redis that lost them);
  // until then get_document reads the store. (A corpus loaded beside running workers needs both
  // marks deleted: once complete, the copies say which documents are stored.)
  const syncFromStore = (): void => {
    store
      .syncListing()
      .then(
        (outcome) => {
          if (outcome === 'built') logger.info('document listing built from the store');
        },
        (error: unknown) => logger.warn({ err: error }, 'building the document listing failed; retrying'),
      )
      .then(() => store.syncRecordCopies())
      .then(
        (outcome) => {
          if (outcome === 'built') logger.info('document record copies filled in from the store');
        },
        (error: unknown) => logger.warn({ err: error }, 'copying the document records failed; retrying'),
      )
      // Keys of documents that were never stored (a failed write), which pages skip.
      .then(() => store.pruneListing())
      .then(
        ({ removed }) => {
          if (removed > 0) logger.info({ removed }, 'stale keys pruned from the document listing');
        },
        (error: unknown) => logger.warn({ err: error }, 'pruning the document listing failed; retrying'),
      );
  };
  syncFromStore();
  const syncTimer = setInterval(syncFromStore, STORE_SYNC_MS);
  syncTimer.unref();
  closer.add('listing and copies sync', () => clearInterval(syncTimer));
  // Epochs and embeddings live in the cache's Redis (its own when HOPPER_CACHE_REDIS_URL is set).
  const cacheRedis = config.cache.redisUrl
    ? createRedis(config.cache.redisUrl, { name: 'worker-cache', role: 'command', onError })
    : redis;
  if (cacheRedis !== redis) closer.add('cache redis', () => closeRedis(cacheRedis));
  const provider = createEmbeddingProvider(config.embeddings);
  // The builtin embedder computes faster than Redis answers: its vectors are not cached.
  const tracedProvider = traced(provider, tracing.tracer, 'embeddings', ['embed']);
  const embedder =
    config.embeddings.provider === 'builtin'
      ? withoutEmbeddingCache(tracedProvider)
      : withEmbeddingCache(tracedProvider, {
          space: `${provider.model}@${config.embeddings.dimensions ?? 'native'}`,
          redis: cacheRedis,
          keys,
          ttlSeconds: config.cache.ttlSeconds.embeddings,
          timeoutMs: config.cache.timeoutMs,
          onError: rateLimited(10_000, (error: Error, operation: string, suppressed: number) =>
            logger.warn(
              { err: error, operation, suppressed },
              'embedding cache call failed; computing instead',
            ),
          ),
        });
  const epochs = new Epochs({ redis: cacheRedis, keys, timeoutMs: config.cache.timeoutMs });
  // Untrusted documents are parsed in these threads, never on the event loop that renews job locks.
  const parsers = new ParserPool(config.parseSandbox);
  closer.add('parser threads', () => parsers.close());
  const records = new JobRecords(redis, keys);
  const deps = {
    redis,
    keys,
    records,
    logger,
    tracer: tracing.tracer,
    metrics,
    failures: jobFailures,
    afterSuccess: async (kind: string, payload: { tenant: string; collection?: string }) => {
      if ((kind === 'ingest' || kind === 'batch' || kind === 'delete') && payload.collection) {
        await bumpEpoch(epochs, payload.tenant, payload.collection, logger);
      }
    },
  };

  const processors: QueueProcessor[] = [
    {
      queue: jobCatalog.ingest.queue,
      concurrency: config.ingestConcurrency,
      processor: createProcessor(
        'ingest',
        createIngestHandler({
          redis,
          keys,
          store,
          embedder,
          batchSize: EMBED_BATCH,
          parsers,
          bodies: new ByteBudget(config.ingestBytes),
        }),
        deps,
      ),
    },
    {
      // A batch runs its documents `ingestConcurrency` at a time itself: two batches per worker
      // keep one long batch from holding the worker while another tenant's waits.
      queue: jobCatalog.batch.queue,
      concurrency: 2,
      processor: createProcessor(
        'batch',
        createBatchHandler({
          redis,
          keys,
          store,
          embedder,
          batchSize: EMBED_BATCH,
          parsers,
          concurrency: BATCH_DOCUMENTS_IN_FLIGHT,
          collectionChanged: (tenant, collection) => bumpEpoch(epochs, tenant, collection, logger),
        }),
        deps,
      ),
    },
    {
      queue: jobCatalog.embed.queue,
      concurrency: config.concurrency,
      processor: createProcessor(
        'embed',
        createEmbedHandler({ redis, keys, embedder, batchSize: 256 }),
        deps,
      ),
    },
    {
      queue: jobCatalog.delete.queue,
      concurrency: config.concurrency,
      processor: createProcessor('delete', createDeleteHandler(store), deps),
    },
  ];

  const jobWorkers = new JobWorkers(processors, {
    connection: bullConnection,
    keys,
    records,
    logger,
    lockDurationMs: LOCK_MS,
    stalledIntervalMs: STALLED_CHECK_MS,
  });
  closer.add('queue workers', () => jobWorkers.close(config.drainMs));

  for (const redisClient of [redis, cacheRedis]) timeRedisCommands(redisClient, metrics.redisCommandDuration);
  try {
    // Loopback unless told otherwise: the metrics port has no authentication either.
    const served = await serveMetrics(metrics.registry, config.metricsPort, config.metricsHost);
    closer.add('metrics server', () => new Promise<void>((resolve) => served.server.close(() => resolve())));
    logger.info({ port: served.port }, 'worker metrics at /metrics');
  } catch (error) {
    // A taken port must not stop a worker from working; it only goes unobserved.
    logger.warn({ err: error, port: config.metricsPort }, 'worker metrics server could not start');
  }

  await jobWorkers.start(subscriber);
  logger.info(
    { queues: processors.map((p) => p.queue), concurrency: config.concurrency, model: embedder.model },
    'worker ready',
  );
  return closer;
}

await runService({ name: 'worker', loadConfig: () => loadConfig(process.env), start: startWorker });
