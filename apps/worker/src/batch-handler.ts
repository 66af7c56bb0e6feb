import { UnrecoverableError } from 'bullmq';
import * as z from 'zod';
import { batchEntry, type BatchOutcome, type BatchPayload, type BatchResult } from '@hopper/contracts';
import {
  CANCEL_REASON,
  CancelledError,
  deletePayload,
  getPayload,
  type JobContext,
  type JobHandler,
} from '@hopper/jobs';
import type { DocumentRecord } from '@hopper/store';
import { ingestOne, type IngestDeps } from './ingest-handler.ts';
import { clientMessage, isRetryable } from './job-failures.ts';

export interface BatchDeps extends IngestDeps {
  /** Documents of one batch in flight at once: enough to fill the store's group commits. */
  concurrency: number;
  /**
   * Bytes of document bodies in flight at once (parsed, chunked and embedded, waiting for their
   * commit): large documents take turns where small ones run `concurrency` at a time.
   */
  maxBytesInFlight?: number;
  /**
   * Tells gateways that the collection changed (its cache epoch), so cached answers do not hide
   * documents a long batch has stored already; called at most every EPOCH_BUMP_MS while storing.
   * The job's completion bumps it once more.
   */
  collectionChanged?: (tenant: string, collection: string) => Promise<void>;
}

const EPOCH_BUMP_MS = 1_000;
const DEFAULT_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

const entries = z.array(batchEntry);

/** How often (in documents) a batch asks Redis for its cancel flag; the broadcast is seen at once. */
const CANCEL_CHECK_EVERY = 32;

/** The metadata key a path ingest records its file's path under (see the gateway's ingest-input). */
const SOURCE_PATH_KEY = 'hopper.path';

/**
 * A batch ingest: every document of the batch through the same steps as an ingest job's one (see
 * ingestOne), `concurrency` at a time, so their writes share the store's group commits. Each
 * document ends stored, unchanged (its current version is already this ingest: nothing is parsed
 * or written) or failed with its reason; one document's failure never stops the others.
 *
 * What stops the batch: a cancel (between documents; those stored stay stored and the job says how
 * many), the worker shutting down or losing the job's lock, and a failure that may pass on retry
 * (the embeddings API or the store unavailable): then the attempt fails and the next one redoes only
 * what is not stored yet, since documents this attempt stored are unchanged to it.
 */
export function createBatchHandler(deps: BatchDeps): JobHandler<'batch'> {
  return async (payload: BatchPayload, context: JobContext): Promise<BatchResult> => {
    const { tenant, collection } = payload;
    const key = deps.keys.payload(tenant, context.jobId);
    const bytes = await getPayload(deps.redis, key);
    if (!bytes) {
      throw new UnrecoverableError(
        'the documents of this batch expired before the job ran; send the batch again',
      );
    }
    const batch = entries.parse(JSON.parse(bytes.toString('utf8')));
    const total = batch.length;
    context.progress({ progress: 0, stage: 'reading', message: `${total} documents`, current: 0, total });
    const stored = await deps.store.getDocuments(
      tenant,
      collection,
      batch.flatMap((entry) => ('body' in entry ? [entry.documentId] : [])),
    );

    const outcomes: BatchOutcome[] = new Array<BatchOutcome>(total);
    // The documents' own steps check only the signal (the cancel broadcast fires it); the Redis
    // flag, for a cancel whose broadcast was missed, is read every CANCEL_CHECK_EVERY documents.
    const documentContext: JobContext = {
      ...context,
      throwIfCancelled: () =>
        context.signal.aborted
          ? Promise.reject(new CancelledError('cancelled by request'))
          : Promise.resolve(),
    };
    let next = 0;
    let done = 0;
    let stopped: unknown;
    let lastBump = Date.now();
    const maxBytes = deps.maxBytesInFlight ?? DEFAULT_BYTES_IN_FLIGHT;
    let bytesInFlight = 0;
    const waiting: (() => void)[] = [];
    /** Waits until `size` more bytes fit (a document alone always does). */
    const admit = async (size: number): Promise<void> => {
      while (bytesInFlight > 0 && bytesInFlight + size > maxBytes) {
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      bytesInFlight += size;
    };
    const release = (size: number) => {
      bytesInFlight -= size;
      for (const wake of waiting.splice(0)) wake();
    };

    const ingest = async (index: number): Promise<BatchOutcome> => {
      const entry = batch[index]!;
      if ('error' in entry) return { index, ...idOf(entry), state: 'failed', error: entry.error };
      const current = stored.get(entry.documentId);
      const conflict = pathConflict(entry.metadata, current);
      if (conflict) return { index, documentId: entry.documentId, state: 'failed', error: conflict };
      if (current && current.contentHash === entry.contentHash && current.model === deps.embedder.model) {
        return { index, documentId: entry.documentId, state: 'unchanged', ...versionOf(current) };
      }
      const body = entry.encoding === 'text' ? entry.body : Buffer.from(entry.body, 'base64');
      try {
        const record = await ingestOne(
          deps,
          { ...entry, tenant, collection },
          body,
          documentContext,
          () => undefined,
        );
        return { index, documentId: entry.documentId, state: 'stored', ...versionOf(record) };
      } catch (error) {
        // Only what is the document's own doing fails it alone; the rest stops the batch.
        if (context.signal.aborted || error instanceof CancelledError || isRetryable(error)) throw error;
        return { index, documentId: entry.documentId, state: 'failed', error: clientMessage(error) };
      }
    };

    const lane = async (): Promise<void> => {
      while (stopped === undefined && next < total) {
        const index = next++;
        try {
          if (index % CANCEL_CHECK_EVERY === 0) await context.throwIfCancelled();
          const entry = batch[index]!;
          const size = 'body' in entry ? entry.body.length : 0;
          await admit(size);
          let outcome: BatchOutcome;
          try {
            outcome = await ingest(index);
          } finally {
            release(size);
          }
          outcomes[index] = outcome;
          if (
            outcome.state === 'stored' &&
            deps.collectionChanged &&
            Date.now() - lastBump >= EPOCH_BUMP_MS
          ) {
            lastBump = Date.now();
            await deps.collectionChanged(tenant, collection);
          }
        } catch (error) {
          stopped ??= error;
          return;
        }
        done++;
        context.progress({
          progress: done / total,
          stage: 'ingesting',
          message: `${done} of ${total} documents`,
          current: done,
          total,
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(deps.concurrency, total) }, lane));

    if (stopped !== undefined) {
      const cancelled = stopped instanceof CancelledError || context.signal.reason === CANCEL_REASON;
      if (!cancelled) throw stopped as Error;
      const kept = outcomes.filter((outcome) => outcome?.state === 'stored').length;
      throw new CancelledError(
        `cancelled after ${done} of ${total} documents; the ${kept} stored by this batch stay stored`,
      );
    }
    await deletePayload(deps.redis, key);
    const count = (state: BatchOutcome['state']) => outcomes.filter((o) => o.state === state).length;
    return {
      collection,
      total,
      stored: count('stored'),
      unchanged: count('unchanged'),
      failed: count('failed'),
      documents: outcomes,
    };
  };
}

function idOf(entry: { documentId?: string | undefined }): { documentId?: string } {
  return entry.documentId === undefined ? {} : { documentId: entry.documentId };
}

function versionOf(record: DocumentRecord): { version: number; chunks: number } {
  return { version: record.version, chunks: record.chunks };
}

/**
 * A file of a directory batch whose id is held by another file, or by a document that was not
 * ingested from a path: replacing it would lose that document (the rule `ingest_document {path}`
 * applies, checked here because the batch reads the stored documents anyway).
 */
function pathConflict(
  metadata: Record<string, unknown>,
  current: DocumentRecord | undefined,
): string | undefined {
  const source = metadata[SOURCE_PATH_KEY];
  if (typeof source !== 'string' || !current) return undefined;
  const holds = current.metadata[SOURCE_PATH_KEY];
  if (holds === source) return undefined;
  const what =
    typeof holds === 'string'
      ? `already holds another file ('${holds}'), whose path gives the same id`
      : 'already holds a document that was not ingested from this path';
  return `document '${current.documentId}' ${what}; ingest this file with ingest_document and a documentId of its own (or delete the document first)`;
}
