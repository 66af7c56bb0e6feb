import {
  DEFAULT_COLLECTION,
  HopperError,
  isHopperError,
  jobCatalog,
  limits,
  type BatchDocumentInput,
  type BatchEntry,
  type IngestDocumentsOutput,
  type IngestPayload,
  type JobView,
} from '@hopper/contracts';
import { mediaTypeFromName } from '@hopper/documents';
import { jobResult } from '@hopper/jobs';
import { followJob } from './follow-job.ts';
import {
  inlineSource,
  prepareIngest,
  sourcePathOf,
  withSourcePath,
  type IngestArguments,
} from './ingest-input.ts';
import { documentIdForPath, listDirectoryUnderRoots, openFileUnderRoots } from './ingest-path.ts';
import { PathReads } from './path-reads.ts';
import type { ToolDeps } from './tool-context.ts';
import type { ToolHandler, ToolInput } from '@hopper/contracts';

/** A batch's documents as the gateway checked them, and the files of a directory it left out. */
interface Batch {
  entries: BatchEntry[];
  skipped: { path: string; reason: string }[];
}

/**
 * `ingest_documents`: many documents, one job. Each document gets the checks `ingest_document`
 * gives one (see prepareIngest); a document that fails them travels as its reason, so it fails
 * alone and the job's outcomes still list every document in the order sent. What refuses the whole
 * call, before any work: the batch itself being malformed or over its limits.
 */
export function batchTools(deps: ToolDeps): { ingest_documents: ToolHandler<'ingest_documents'> } {
  const pathReads = deps.pathReads ?? new PathReads({ maxConcurrent: 0, maxQueued: 0 });
  return {
    async ingest_documents(input, call) {
      const collection = input.collection ?? DEFAULT_COLLECTION;
      const batch =
        input.path !== undefined
          ? await pathReads.run(() => directoryBatch(input, input.path!, call.tenant, deps.ingestRoots ?? []))
          : inlineBatch(input, call.tenant);
      if (batch.entries.length === 0) {
        const reasons = batch.skipped.slice(0, 5).map(({ path, reason }) => `${path}: ${reason}`);
        throw new HopperError(
          'invalid_argument',
          `no supported files under '${input.path}'${reasons.length > 0 ? ` (skipped: ${reasons.join('; ')}${batch.skipped.length > 5 ? '; …' : ''})` : ''}`,
        );
      }
      const jobId = await deps.jobs.submitBatch(call.tenant, collection, batch.entries);
      const skipped = batch.skipped.length > 0 ? { skipped: batch.skipped } : {};
      if (!input.wait) return { jobId, state: 'queued', collection, total: batch.entries.length, ...skipped };
      const view = await followJob(deps, jobId, call, jobCatalog.batch.waitTimeoutMs);
      return { ...batchOutput(view, collection, batch.entries.length), ...skipped };
    },
  };
}

function inlineBatch(input: ToolInput<'ingest_documents'>, tenant: string): Batch {
  const documents = input.documents ?? [];
  const seen = new Map<string, number>();
  let bytes = 0;
  const entries = documents.map((document, index): BatchEntry => {
    if ('invalid' in document) {
      return { ...ownId(document), error: `document ${index}: ${document.invalid}` };
    }
    const entry = entryOf(
      index,
      { ...document, ...shared(input) },
      tenant,
      () => inlineSource(document),
      seen,
    );
    if ('body' in entry)
      bytes += entry.encoding === 'text' ? Buffer.byteLength(entry.body) : (entry.body.length * 3) / 4;
    if (bytes > limits.maxBatchBytes) {
      throw new HopperError(
        'invalid_argument',
        `the batch holds more than ${limits.maxBatchBytes / (1024 * 1024)} MiB of documents (the limit for one batch); split it`,
      );
    }
    return entry;
  });
  return { entries, skipped: [] };
}

/**
 * The supported files under a directory, each read and checked like `ingest_document {path}` reads
 * one, with the same document id (its path under the root) and the same recorded path
 * (`hopper.path`). Files the batch cannot take (an unknown type, too large, unreadable, past the
 * batch's limits) are skipped with their reason. A file whose id another file or an inline document
 * already holds fails in the worker, which reads the stored documents anyway (see the batch handler).
 */
async function directoryBatch(
  input: ToolInput<'ingest_documents'>,
  directory: string,
  tenant: string,
  roots: readonly string[],
): Promise<Batch> {
  const paths = await listDirectoryUnderRoots(directory, roots);
  const entries: BatchEntry[] = [];
  const skipped: Batch['skipped'] = [];
  const seen = new Map<string, number>();
  let bytes = 0;
  for (const path of paths) {
    if (entries.length >= limits.maxBatchDocuments) {
      skipped.push({
        path,
        reason: `the batch is full (${limits.maxBatchDocuments} documents); ingest the rest in another batch`,
      });
      continue;
    }
    if (mediaTypeFromName({ filename: path }) === undefined) {
      skipped.push({ path, reason: 'not a supported file type (by its extension)' });
      continue;
    }
    let file;
    try {
      file = await openFileUnderRoots(path, roots, limits.maxPathFileBytes);
    } catch (error) {
      if (!isHopperError(error)) throw error;
      skipped.push({ path, reason: error.message });
      continue;
    }
    try {
      if (bytes + file.size > limits.maxBatchBytes) {
        skipped.push({
          path,
          reason: `the batch is full (${limits.maxBatchBytes / (1024 * 1024)} MiB); ingest the rest in another batch`,
        });
        continue;
      }
      const body = await file.read();
      bytes += body.length;
      const source = {
        body,
        maxBytes: limits.maxPathFileBytes,
        filename: file.filename,
        metadata: withSourcePath({}, sourcePathOf(file.path)),
      };
      let documentId: string;
      try {
        documentId = documentIdForPath(file.relativePath);
      } catch (error) {
        if (!isHopperError(error)) throw error;
        skipped.push({ path, reason: error.message });
        continue;
      }
      entries.push(entryOf(entries.length, { ...shared(input), documentId }, tenant, () => source, seen));
    } finally {
      await file.close();
    }
  }
  return { entries, skipped };
}

/** What every document of a batch shares: the call's collection and chunking. */
function shared(input: ToolInput<'ingest_documents'>): IngestArguments {
  return {
    ...(input.collection ? { collection: input.collection } : {}),
    ...(input.chunking ? { chunking: input.chunking } : {}),
  };
}

/** One checked document, or its reason for failing. `seen` maps the ids taken so far to their index. */
function entryOf(
  index: number,
  args: IngestArguments,
  tenant: string,
  source: () => ReturnType<typeof inlineSource>,
  seen: Map<string, number>,
): BatchEntry {
  let prepared: { payload: IngestPayload; body: string | Buffer };
  try {
    prepared = prepareIngest(args, tenant, source());
  } catch (error) {
    if (!isHopperError(error)) throw error;
    return { ...ownId(args), error: `document ${index}: ${error.message}` };
  }
  const { payload, body } = prepared;
  const first = seen.get(payload.documentId);
  if (first !== undefined) {
    // Two versions of one document in one batch would both be written, the later one winning by
    // accident of timing: the caller most likely did not mean that.
    return {
      documentId: payload.documentId,
      error: `document ${index}: documentId '${payload.documentId}' is already document ${first} of this batch; a batch holds each document once`,
    };
  }
  seen.set(payload.documentId, index);
  const { tenant: _tenant, collection: _collection, ...rest } = payload;
  return { ...rest, body: typeof body === 'string' ? body : body.toString('base64') };
}

function ownId(document: Partial<BatchDocumentInput> | IngestArguments | { invalid: string }): {
  documentId?: string;
} {
  const id = (document as { documentId?: unknown }).documentId;
  return typeof id === 'string' && id.length <= 256 ? { documentId: id } : {};
}

export function batchOutput(view: JobView, collection: string, total: number): IngestDocumentsOutput {
  if (view.state === 'failed') {
    throw new HopperError(
      'job_failed',
      `batch ingest failed: ${view.error ?? 'unknown error'} (job ${view.jobId})`,
    );
  }
  const result = jobResult('batch', view);
  if (!result) return { jobId: view.jobId, state: view.state, collection, total };
  const { stored, unchanged, failed, documents } = result;
  return { jobId: view.jobId, state: view.state, collection, total, stored, unchanged, failed, documents };
}
