import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { limits, type IngestPayload, type IngestResult, type Keys } from '@hopper/contracts';
import { chunkEmbeddingText, parseAndChunk, type Chunk, type ParserPool } from '@hopper/documents';
import type { TenantEmbedder } from '@hopper/cache';
import type { ChunkInput, DocumentRecord, StoreWriter } from '@hopper/store';
import type { ByteBudget } from './byte-budget.ts';
import {
  deletePayload,
  getPayload,
  type JobContext,
  type JobHandler,
  type ProgressUpdate,
} from '@hopper/jobs';

export interface IngestDeps {
  redis: Redis;
  keys: Keys;
  store: StoreWriter;
  embedder: TenantEmbedder;
  /** Chunks embedded per provider call: also the cancellation and progress granularity. */
  batchSize: number;
  /**
   * Bytes of document bodies the worker's running ingest jobs hold at once; a job waits for its
   * body's bytes before reading it. Without it, the job count alone bounds them (unit tests only).
   */
  bodies?: ByteBudget;
  /**
   * The threads documents are parsed and chunked in, each with a heap cap and a time budget;
   * without it, parsing runs on the event loop (unit tests only: a hostile document would then take
   * the worker down).
   */
  parsers?: ParserPool;
}

/**
 * Parse → chunk → embed in batches → write the new version in one commit. Nothing is written before
 * the last step, so a cancelled or failed job leaves the previous version searchable and no partial
 * chunks behind.
 */
export function createIngestHandler(deps: IngestDeps): JobHandler<'ingest'> {
  return async (payload: IngestPayload, context: JobContext): Promise<IngestResult> => {
    const payloadKey = deps.keys.payload(payload.tenant, context.jobId);
    const run = async (): Promise<IngestResult> => {
      const body = await getPayload(deps.redis, payloadKey);
      if (!body) {
        // A retry of an attempt that wrote this version and deleted the body, then could not record
        // it (Redis went away, the worker died before marking the job completed), finds it stored.
        const stored = await deps.store.getDocument(payload.tenant, payload.collection, payload.documentId);
        if (stored && storesThisIngest(stored, payload, deps.embedder.model)) return resultOf(stored);
        throw new UnrecoverableError('the document body expired before the job ran; ingest it again');
      }
      const content = payload.encoding === 'text' ? body.toString('utf8') : body;
      const record = await ingestOne(deps, payload, content, context, (update) => context.progress(update));
      await deletePayload(deps.redis, payloadKey);
      return resultOf(record);
    };
    if (!deps.bodies) return run();
    // The body's size first (one small round trip): it is read only once it fits the budget.
    return deps.bodies.run(await deps.redis.strlen(payloadKey), run, context.signal);
  };
}

/** What a document's ingest says of it: an ingest job's payload, or one document of a batch. */
export type DocumentToIngest = Omit<IngestPayload, 'encoding'>;

/**
 * One document through parse → chunk → embed in batches → one write of its new version (in the
 * store's group commit). `body` is the document's text, or its bytes for the parser to decode.
 * `report` gets the document's own progress (an ingest job forwards it; a batch counts documents).
 */
export async function ingestOne(
  deps: IngestDeps,
  payload: DocumentToIngest,
  body: string | Buffer,
  context: JobContext,
  report: (update: ProgressUpdate) => void,
): Promise<DocumentRecord> {
  report({ progress: 0.02, stage: 'parsing' });
  // Parsed and chunked in a thread with its own heap cap and time budget (see parseAndChunk):
  // a document built to exhaust memory or time fails alone, with a reason, and the event loop
  // that renews this job's lock stays free meanwhile. The gateway enforced the limit of the
  // document's source kind; this bound is the largest of them.
  const parsed = await context.step('parse and chunk', () =>
    parseAndChunk(
      {
        content: typeof body === 'string' ? body : new Uint8Array(body),
        ...(payload.mediaType ? { mediaType: payload.mediaType } : {}),
        ...(payload.filename ? { filename: payload.filename } : {}),
      },
      {
        parse: { maxBytes: limits.maxPathFileBytes },
        ...(payload.chunking ? { chunking: payload.chunking } : {}),
        ...(deps.parsers ? { sandbox: deps.parsers } : {}),
        signal: context.signal,
      },
    ),
  );
  const { chunks } = parsed;
  // Chunks are embedded and indexed with the document's title and their heading path, so a
  // passage is found by what its document and section are about, not only by its own words.
  const title = payload.title ?? parsed.title;
  const contextText = (chunk: Chunk): string => chunkEmbeddingText(chunk, title);
  report({
    progress: 0.1,
    stage: 'chunking',
    message: `${chunks.length} chunks`,
    total: chunks.length,
  });

  const inputs: ChunkInput[] = [];
  for (let start = 0; start < chunks.length; start += deps.batchSize) {
    await context.throwIfCancelled();
    const batch = chunks.slice(start, start + deps.batchSize);
    const texts = batch.map(contextText);
    const vectors = await context.step(
      'embed batch',
      () => deps.embedder.embed(payload.tenant, texts, { signal: context.signal }),
      {
        'hopper.batch.size': texts.length,
      },
    );
    batch.forEach((chunk, i) => {
      const vector = vectors[i];
      if (!vector)
        throw new Error(`embedding provider returned ${vectors.length} vectors for ${batch.length} texts`);
      inputs.push({
        text: chunk.text,
        headingPath: chunk.headingPath,
        start: chunk.start,
        end: chunk.end,
        ...(chunk.page === undefined ? {} : { page: chunk.page }),
        vector,
        searchText: texts[i] ?? chunk.text,
      });
    });
    const done = inputs.length;
    report({
      progress: 0.1 + 0.8 * (done / chunks.length),
      stage: 'embedding',
      message: `embedded ${done} of ${chunks.length} chunks`,
      current: done,
      total: chunks.length,
    });
  }

  await context.throwIfCancelled();
  report({ progress: 0.92, stage: 'writing', total: chunks.length });
  return deps.store.replaceDocument(
    {
      tenant: payload.tenant,
      collection: payload.collection,
      documentId: payload.documentId,
      title: payload.title ?? parsed.title ?? payload.documentId,
      mediaType: parsed.mediaType,
      contentHash: payload.contentHash,
      metadata: payload.metadata,
      model: deps.embedder.model,
    },
    inputs,
    // A retry of an attempt that wrote this version but died before deleting the body gets the
    // stored version back instead of writing the same content again. Checked inside the group
    // commit, so a first attempt pays no read of its own.
    { unlessStored: true },
  );
}

function resultOf(record: DocumentRecord): IngestResult {
  return {
    documentId: record.documentId,
    collection: record.collection,
    version: record.version,
    chunks: record.chunks,
    model: record.model,
  };
}

/**
 * Whether the stored version is what this ingest would write. The payload's `contentHash` is the
 * ingest's fingerprint (`ingestFingerprint` in the contracts: content, media type, title, metadata,
 * chunking), the same value the gateway compares before queueing, so both sides agree on what "the
 * same ingest" is; only the model is the worker's own. This covers the job's own retries.
 */
function storesThisIngest(record: DocumentRecord, payload: IngestPayload, model: string): boolean {
  return record.contentHash === payload.contentHash && record.model === model;
}
