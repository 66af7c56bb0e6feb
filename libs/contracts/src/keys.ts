/**
 * Every Redis key and channel Hopper uses, built in one place. Keys are prefixed (so several
 * deployments or test runs share a Redis safely) and namespaced by tenant where the data is a
 * tenant's. These names are persistent API: changing one orphans data written under the old name.
 */
export interface Keys {
  readonly prefix: string;
  /** BullMQ's own prefix; BullMQ appends `:<queue>:...`. */
  readonly bullPrefix: string;
  /** Hash: the job as clients see it (state, progress, result, error). */
  job(tenant: string, jobId: string): string;
  /** Sorted set of a tenant's job ids by creation time, for `list_jobs`. */
  jobIndex(tenant: string): string;
  /** String: set while a cancel is requested; the worker checks it at batch boundaries. */
  cancelFlag(tenant: string, jobId: string): string;
  /** String/bytes: a job's input that is too large for job data (document body, texts). */
  payload(tenant: string, jobId: string): string;
  /** Bytes: a queued `embed_texts` job's vectors, float32 little-endian. */
  embedOutput(tenant: string, jobId: string): string;
  /** Short lock taken while deciding whether an ingest job id must be re-run. */
  enqueueLock(tenant: string, jobId: string): string;
  /**
   * Integer: how many times an ingest job id was started again after an earlier run ended (failed,
   * cancelled, or its document deleted or replaced); part of a finished job's cached `get_job` key.
   */
  jobRun(tenant: string, jobId: string): string;
  /**
   * String: the file (its path) whose ingest claimed a path-derived document id that is not stored
   * yet, so a second file with the same id is refused rather than silently replacing the first.
   */
  pathClaim(tenant: string, collection: string, documentId: string): string;
  /**
   * String: the job a legacy MCP request (session + JSON-RPC id) is waiting on. Under the tenant:
   * session ids are only as secret as the clients keep them, and a route kept outside the tenant's
   * space could be overwritten (or its cancel dropped) by a caller of another tenant who knows one.
   */
  legacyRequest(tenant: string, sessionId: string, requestId: string): string;
  /** Pub/sub channel of one job's progress events. */
  progressChannel(tenant: string, jobId: string): string;
  /** Pub/sub channel every worker listens on for cancellation of active jobs. */
  readonly cancelChannel: string;
  /** Integer: bumped on every write to a collection; part of every cached read's key. */
  epoch(tenant: string, collection: string): string;
  /** Pub/sub channel on which epoch bumps are announced to every gateway's in-process cache. */
  readonly epochChannel: string;
  /** Bytes (msgpack): one cached tool result. `scope` is the epoch (for a finished job, its run). */
  cachedResult(tenant: string, tool: string, scope: string, argsHash: string): string;
  /** Bytes (float32): one text's embedding under one model. */
  embedding(tenant: string, model: string, textHash: string): string;
  /** Short lock: the one process computing a result that others wait for (cross-process single-flight). */
  flightLock(key: string): string;
  /** Sorted set: how often each search ran on a collection (decaying), for warming after writes. */
  hotQueries(tenant: string, collection: string): string;
  /** Short lock: the one gateway that warms a collection after an epoch bump. */
  warmLock(tenant: string, collection: string, epoch: number): string;
  /** Hash: a tenant's rate-limit token bucket (tokens left, last refill); expires when full. */
  rateLimit(tenant: string): string;
  /** Sorted set: a tenant's queued and running job ids, scored by when their lease runs out. */
  liveJobs(tenant: string): string;
  /**
   * String: the worker writing one document right now (`documentKey` is the store's key for it,
   * which holds the tenant); other workers wait, so each write gets its own version.
   */
  documentWriteLock(documentKey: string): string;
  /**
   * Sorted set (all scores 0, ordered by member): a tenant's documents as `collection` U+001F
   * `documentId`, which `list_documents` pages through (the store's `DocumentListing`).
   */
  documentListing(tenant: string): string;
  /** String: set once the listing holds every stored document (built from the store). */
  readonly documentListingComplete: string;
  /** Short lock: the one worker building the listing from the store. */
  readonly documentListingBuild: string;
  /**
   * Set: listed documents that may have no record (`tenant` U+001F `collection` U+001F
   * `documentId`): a page skipped them, or their write failed after listing them. A writer checks
   * each under its write lock and removes the stale ones (the store's `pruneListing`).
   */
  readonly documentListingSuspects: string;
  /**
   * Hash: copies of a tenant's committed document records, which reads by key serve (the store's
   * `DocumentRecordCopies`). Field `r:<collection> U+001F <documentId>` is a record as JSON; field
   * `m:<same>` marks a document being changed (a token), whose record is read from the store;
   * field `x:<same>` says a document is stored but its record too large to copy.
   */
  documentRecords(tenant: string): string;
  /**
   * String: set once a worker has copied every stored record (the store's `syncRecordCopies`): a
   * document with no field in the copies is then not stored. (`-v2`: since the `x:` fields, which
   * copies filled in before them lack.)
   */
  readonly documentRecordsComplete: string;
  /** Short lock: the one worker copying the stored records. */
  readonly documentRecordsBuild: string;
  /**
   * Hash: the store's commit clock (`epoch`, a random id, and `count`, the commits that changed
   * what a search finds), which searches compare with what their gateway's search mirror has read.
   */
  readonly commitClock: string;
  /**
   * Stream: one entry per tick of the commit clock (`epoch`, `count`, and `note`, the commit's rows
   * for gateways' search mirrors, or empty), the last ~128 kept.
   */
  readonly commitNotes: string;
}

export function createKeys(prefix = 'hopper'): Keys {
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix)) {
    throw new RangeError(`Redis key prefix '${prefix}' may only contain letters, digits, _ . and -`);
  }
  const t = (tenant: string) => `${prefix}:t:${tenant}`;
  return {
    prefix,
    bullPrefix: `${prefix}:q`,
    job: (tenant, jobId) => `${t(tenant)}:job:${jobId}`,
    jobIndex: (tenant) => `${t(tenant)}:jobs`,
    cancelFlag: (tenant, jobId) => `${t(tenant)}:cancel:${jobId}`,
    payload: (tenant, jobId) => `${t(tenant)}:payload:${jobId}`,
    embedOutput: (tenant, jobId) => `${t(tenant)}:embed-out:${jobId}`,
    enqueueLock: (tenant, jobId) => `${t(tenant)}:enqueue-lock:${jobId}`,
    jobRun: (tenant, jobId) => `${t(tenant)}:job-run:${jobId}`,
    // Collection names hold no ':', so the document id after it is unambiguous.
    pathClaim: (tenant, collection, documentId) => `${t(tenant)}:path-claim:${collection}:${documentId}`,
    legacyRequest: (tenant, sessionId, requestId) => `${t(tenant)}:legacy:${sessionId}:${requestId}`,
    progressChannel: (tenant, jobId) => `${t(tenant)}:progress:${jobId}`,
    cancelChannel: `${prefix}:cancel`,
    epoch: (tenant, collection) => `${t(tenant)}:epoch:${collection}`,
    epochChannel: `${prefix}:epochs`,
    cachedResult: (tenant, tool, scope, argsHash) => `${t(tenant)}:cache:${tool}:${scope}:${argsHash}`,
    embedding: (tenant, model, textHash) => `${t(tenant)}:emb:${model}:${textHash}`,
    flightLock: (key) => `${key}:flight`,
    hotQueries: (tenant, collection) => `${t(tenant)}:hot:${collection}`,
    warmLock: (tenant, collection, epoch) => `${t(tenant)}:warm:${collection}:${epoch}`,
    rateLimit: (tenant) => `${t(tenant)}:rate`,
    liveJobs: (tenant) => `${t(tenant)}:live-jobs`,
    documentWriteLock: (documentKey) => `${prefix}:write-lock:${documentKey}`,
    documentListing: (tenant) => `${t(tenant)}:listing`,
    documentListingComplete: `${prefix}:listing-complete`,
    documentListingBuild: `${prefix}:listing-build`,
    documentListingSuspects: `${prefix}:listing-suspects`,
    documentRecords: (tenant) => `${t(tenant)}:records`,
    documentRecordsComplete: `${prefix}:records-complete-v2`,
    documentRecordsBuild: `${prefix}:records-build`,
    commitClock: `${prefix}:commit-clock`,
    commitNotes: `${prefix}:commit-notes`,
  };
}
