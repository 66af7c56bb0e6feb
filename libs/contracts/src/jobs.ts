import * as z from 'zod';
import { collectionName, documentId, metadata } from './schemas.ts';

/** Job states as clients see them (MCP, REST, Socket.IO). */
export const jobStates = ['queued', 'active', 'completed', 'failed', 'cancelled'] as const;
export const jobState = z.enum(jobStates);
export type JobState = z.infer<typeof jobState>;

export const terminalJobStates: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);
export function isTerminal(state: JobState): boolean {
  return terminalJobStates.has(state);
}

export const jobKinds = ['ingest', 'batch', 'embed', 'delete'] as const;
export const jobKind = z.enum(jobKinds);
export type JobKind = z.infer<typeof jobKind>;

/**
 * Ingest payload as it travels in BullMQ job data. The document body is not in it: the gateway
 * stores it under `payloadKey` (see keys.ts) so job data stays small in Redis and in events.
 */
export const ingestPayload = z.object({
  tenant: z.string(),
  collection: collectionName,
  documentId,
  title: z.string().optional(),
  mediaType: z.string().optional(),
  filename: z.string().optional(),
  metadata,
  /**
   * The ingest's fingerprint (`ingestFingerprint`: content, media type, title, metadata, chunking),
   * stored with the version it writes. Named for what it held first; the name is in queued jobs.
   */
  contentHash: z.string(),
  /** `text` payloads are UTF-8 text, `binary` payloads are raw bytes to be decoded by the parser. */
  encoding: z.enum(['text', 'binary']),
  chunking: z.object({ maxChars: z.number().int(), overlapChars: z.number().int() }).optional(),
});
export type IngestPayload = z.infer<typeof ingestPayload>;

export const ingestResult = z.object({
  documentId,
  collection: collectionName,
  version: z.number().int(),
  chunks: z.number().int(),
  model: z.string(),
});
export type IngestResult = z.infer<typeof ingestResult>;

/**
 * A batch ingest: many documents, one job. The documents travel in the payload key as a JSON array
 * of `batchEntry`, in the order the caller sent them.
 */
export const batchPayload = z.object({
  tenant: z.string(),
  collection: collectionName,
  count: z.number().int(),
});
export type BatchPayload = z.infer<typeof batchPayload>;

/**
 * One document of a batch, as the gateway checked it: everything an ingest job's payload says of
 * its document, and its body (UTF-8 text, or base64 for `encoding: 'binary'`). A document the
 * gateway refused (bad arguments, a duplicate id, an unsupported file) travels as its reason, so
 * the job's outcomes list every document sent, in order.
 */
export const batchEntry = z.union([
  ingestPayload.omit({ tenant: true, collection: true }).extend({ body: z.string() }),
  z.object({ documentId: z.string().optional(), error: z.string() }),
]);
export type BatchEntry = z.infer<typeof batchEntry>;

/** What happened to one document of a batch. */
export const batchOutcome = z.object({
  /** The document's place in the batch, from 0. */
  index: z.number().int(),
  documentId: z.string().optional(),
  /**
   * `stored`: this batch wrote a new version. `unchanged`: the current version is already this
   * ingest (same content, title, metadata, chunking, model), so nothing was written. `failed`: see
   * `error`; the document's previous version, if any, is untouched.
   */
  state: z.enum(['stored', 'unchanged', 'failed']),
  version: z.number().int().optional(),
  chunks: z.number().int().optional(),
  error: z.string().optional(),
});
export type BatchOutcome = z.infer<typeof batchOutcome>;

export const batchResult = z.object({
  collection: collectionName,
  total: z.number().int(),
  stored: z.number().int(),
  unchanged: z.number().int(),
  failed: z.number().int(),
  documents: z.array(batchOutcome),
});
export type BatchResult = z.infer<typeof batchResult>;

/** Queued embeddings: texts and vectors travel through payload keys, not job data. */
export const embedPayload = z.object({
  tenant: z.string(),
  count: z.number().int(),
});
export type EmbedPayload = z.infer<typeof embedPayload>;

export const embedResult = z.object({
  model: z.string(),
  dimensions: z.number().int(),
  count: z.number().int(),
});
export type EmbedResult = z.infer<typeof embedResult>;

export const deletePayload = z.object({
  tenant: z.string(),
  collection: collectionName,
  documentId,
});
export type DeletePayload = z.infer<typeof deletePayload>;

export const deleteResult = z.object({ documentId, deleted: z.boolean() });
export type DeleteResult = z.infer<typeof deleteResult>;

interface JobDefinition<P extends z.ZodType, R extends z.ZodType> {
  /** BullMQ queue name. Persistent API: renaming it strands every job already queued under the old name. */
  queue: string;
  payload: P;
  result: R;
  /** Attempts for failures that may pass on retry (a provider timeout); cancellation is never retried. */
  attempts: number;
  backoff: { type: 'exponential'; delay: number };
  /** How long a waiting caller holds the request open before answering with the job handle. */
  waitTimeoutMs: number;
  /** Progress granularity: at most one event per interval and per change; first and last always. */
  progress: { minIntervalMs: number; minDelta: number };
}

/**
 * The job catalog: every queue, its payload and result schemas and its retry policy, in one place.
 * The gateway enqueues from it and the worker's handlers are typed against it.
 */
export const jobCatalog = {
  ingest: {
    queue: 'hopper-ingest',
    payload: ingestPayload,
    result: ingestResult,
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    waitTimeoutMs: 10 * 60_000,
    progress: { minIntervalMs: 100, minDelta: 0.01 },
  },
  batch: {
    queue: 'hopper-ingest-batch',
    payload: batchPayload,
    result: batchResult,
    // A retry redoes only what is not stored yet: documents an earlier attempt wrote are unchanged.
    attempts: 3,
    backoff: { type: 'exponential', delay: 1_000 },
    waitTimeoutMs: 30 * 60_000,
    progress: { minIntervalMs: 250, minDelta: 0.01 },
  },
  embed: {
    queue: 'hopper-embed',
    payload: embedPayload,
    result: embedResult,
    attempts: 3,
    backoff: { type: 'exponential', delay: 500 },
    waitTimeoutMs: 5 * 60_000,
    progress: { minIntervalMs: 100, minDelta: 0.02 },
  },
  delete: {
    queue: 'hopper-maintenance',
    payload: deletePayload,
    result: deleteResult,
    attempts: 3,
    backoff: { type: 'exponential', delay: 200 },
    waitTimeoutMs: 30_000,
    progress: { minIntervalMs: 1_000, minDelta: 1 },
  },
} as const satisfies { [K in JobKind]: JobDefinition<z.ZodType, z.ZodType> };

export type JobCatalog = typeof jobCatalog;
export type JobPayload<K extends JobKind> = z.infer<JobCatalog[K]['payload']>;
export type JobResult<K extends JobKind> = z.infer<JobCatalog[K]['result']>;
