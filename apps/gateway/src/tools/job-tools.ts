import {
  DEFAULT_COLLECTION,
  HopperError,
  jobCatalog,
  limits,
  type IngestOutput,
  type JobResult,
  type JobView,
} from '@hopper/contracts';
import { mediaTypeFromName } from '@hopper/documents';
import { releaseOwned } from '@hopper/redis';
import { jobResult, type SubmittedJob } from '@hopper/jobs';
import {
  SOURCE_PATH_KEY,
  fingerprintOf,
  inlineSource,
  prepareIngest,
  sourcePathOf,
  withSourcePath,
  type Source,
} from './ingest-input.ts';
import { documentIdForPath, openFileUnderRoots } from './ingest-path.ts';
import { followJob } from './follow-job.ts';
import { PathReads } from './path-reads.ts';
import type { ToolDeps } from './tool-context.ts';
import type { CallContext, ToolHandler, ToolInput } from '@hopper/contracts';

export function jobTools(deps: ToolDeps): {
  ingest_document: ToolHandler<'ingest_document'>;
  embed_texts: ToolHandler<'embed_texts'>;
  get_job: ToolHandler<'get_job'>;
  list_jobs: ToolHandler<'list_jobs'>;
  cancel_job: ToolHandler<'cancel_job'>;
} {
  const { jobs, embedder, redis, keys } = deps;

  const follow = (jobId: string, call: CallContext, timeoutMs: number) =>
    followJob(deps, jobId, call, timeoutMs);

  const pathReads = deps.pathReads ?? new PathReads({ maxConcurrent: 0, maxQueued: 0 });

  /**
   * A path ingest, hashed before it is read: the file is streamed through the hash first, so a
   * repeat of an ingest that is queued, running or current is answered without holding the file;
   * only new content is read whole. The repeat is recognised by the same fingerprint `submit`
   * computes (content, media type, title, metadata with the file's path, chunking), which needs the
   * media type before the content: that is known when it is declared or the file's extension names
   * it. When only the content can tell (no extension, an unknown one), the file is read and
   * `submit` decides, as for an inline document.
   */
  async function submitPath(
    input: ToolInput<'ingest_document'>,
    path: string,
    tenant: string,
  ): Promise<Submitted> {
    const file = await openFileUnderRoots(path, deps.ingestRoots ?? [], limits.maxPathFileBytes);
    try {
      const collection = input.collection ?? DEFAULT_COLLECTION;
      const source = sourcePathOf(file.path);
      const recorded = withSourcePath(input.metadata ?? {}, source);
      const filename = input.filename ?? file.filename;
      let documentId = input.documentId;
      let release: (() => Promise<void>) | undefined;
      if (documentId === undefined) {
        documentId = documentIdForPath(file.relativePath);
        release = await refuseCollision(tenant, collection, documentId, source);
      }
      try {
        // What checkDocument in submit will return for this file, or nothing if it needs the bytes.
        const mediaType = mediaTypeFromName({
          ...(input.mediaType ? { mediaType: input.mediaType } : {}),
          filename,
        });
        if (mediaType !== undefined) {
          const found = await jobs.findIngest({
            tenant,
            collection,
            documentId,
            contentHash: fingerprintOf(await file.hash(), mediaType, input, recorded),
          });
          if (found) return { documentId, submitted: found };
        }
        const body = await file.read();
        return await submit(input, tenant, {
          body,
          maxBytes: limits.maxPathFileBytes,
          filename: file.filename,
          documentId,
          metadata: recorded,
        });
      } catch (error) {
        // Refused (bad file, busy): it claims nothing, so another file may take the id.
        await release?.();
        throw error;
      }
    } finally {
      await file.close();
    }
  }

  /**
   * A path-derived id names one file. Distinct paths give distinct ids (see documentIdForPath),
   * except paths that differ in Unicode normalisation alone, the same relative path under two
   * roots, or an id a caller chose for other content: then the document there is not this file's,
   * and replacing it silently would lose it. The caller can name the document instead. Returns how
   * to give back a claim it took, for when the ingest is refused after all.
   */
  async function refuseCollision(
    tenant: string,
    collection: string,
    documentId: string,
    source: string,
  ): Promise<(() => Promise<void>) | undefined> {
    const current = await deps.store.getDocument(tenant, collection, documentId);
    if (current) {
      const holds = current.metadata[SOURCE_PATH_KEY];
      if (holds === source) return undefined;
      throw conflict(
        documentId,
        typeof holds === 'string'
          ? `already holds another file ('${holds}'), whose path gives the same id`
          : 'already holds a document that was not ingested from this path',
      );
    }
    // Not stored yet: two new files with one id (a directory of NFC and NFD twins imported in
    // parallel) would both pass the check above, so the first claims the id until its version is
    // stored. A claim outlives any normal wait in the queue; should its job fail, another file can
    // take the id once it expires.
    const claim = keys.pathClaim(tenant, collection, documentId);
    if ((await redis.set(claim, source, 'PX', PATH_CLAIM_MS, 'NX')) === 'OK') {
      return async () => {
        await releaseOwned(redis, [claim], source);
      };
    }
    const holder = await redis.get(claim);
    if (holder === null || holder === source) return undefined;
    throw conflict(
      documentId,
      `is being ingested from another file ('${holder}'), whose path gives the same id`,
    );
  }

  /** Checks what needs no parsing and queues the ingest (or finds the same one queued or done). */
  async function submit(
    input: ToolInput<'ingest_document'>,
    tenant: string,
    source: Source,
  ): Promise<Submitted> {
    const { payload, body } = prepareIngest(input, tenant, source);
    return { documentId: payload.documentId, submitted: await jobs.submitIngest(payload, body) };
  }

  return {
    async ingest_document(input, call) {
      // A path ingest reads a file of up to 32 MiB from a request of a few bytes: its reads take
      // turns (see PathReads), while the wait for the job below does not hold a turn.
      const { documentId, submitted } =
        input.path !== undefined
          ? await pathReads.run(() => submitPath(input, input.path!, call.tenant))
          : await submit(input, call.tenant, inlineSource(input));
      if (!input.wait) {
        // The same ingest done before answers with its outcome (chunks, version), as a wait would.
        if (submitted.finished) return ingestOutput(submitted.finished, documentId);
        return { jobId: submitted.jobId, documentId, state: submitted.state };
      }
      const view = await follow(submitted.jobId, call, jobCatalog.ingest.waitTimeoutMs);
      return ingestOutput(view, documentId);
    },

    async embed_texts(input, call) {
      if (input.model !== undefined && input.model !== embedder.model) {
        throw new HopperError(
          'invalid_argument',
          `model '${input.model}' is not served here; this server embeds with '${embedder.model}'`,
        );
      }
      const chars = input.texts.reduce((sum, text) => sum + text.length, 0);
      if (input.texts.length <= limits.inlineEmbedMaxTexts && chars <= limits.inlineEmbedMaxChars) {
        const vectors = await embedder.embed(call.tenant, input.texts, { signal: call.signal });
        return {
          model: embedder.model,
          dimensions: vectors[0]?.length ?? 0,
          embeddings: vectors.map((v) => Array.from(v)),
        };
      }
      const jobId = await jobs.submitEmbed(call.tenant, input.texts);
      if (call.detached) {
        // Followed as a task: the vectors are read from the task when it completes.
        call.detached.jobId = jobId;
        return { model: embedder.model, dimensions: 0, embeddings: [] };
      }
      const view = await follow(jobId, call, jobCatalog.embed.waitTimeoutMs);
      const count = embedJobOutcome(view).count;
      const embeddings = await jobs.takeEmbedOutput(call.tenant, jobId, count);
      return { model: embedder.model, dimensions: embeddings[0]?.length ?? 0, embeddings };
    },

    get_job: (input, call) => jobs.get(call.tenant, input.jobId),

    list_jobs: (input, call) => jobs.list(call.tenant, input),

    async cancel_job(input, call) {
      const { job, reason } = await jobs.cancel(call.tenant, input.jobId);
      return { jobId: job.jobId, state: job.state, ...(reason ? { message: reason } : {}) };
    },
  };
}

/** How long a path ingest's claim on a new document id lasts (see refuseCollision). */
const PATH_CLAIM_MS = 60 * 60 * 1000;

function conflict(documentId: string, what: string): HopperError {
  return new HopperError(
    'conflict',
    `document '${documentId}' ${what}; pass documentId to store this file under another id (or delete the document first)`,
  );
}

interface Submitted {
  documentId: string;
  submitted: SubmittedJob;
}

/**
 * A finished embed job's result, or the error its caller gets: the waiting call's and the task's
 * (task-path.ts) alike.
 */
export function embedJobOutcome(view: JobView): JobResult<'embed'> {
  const result = jobResult('embed', view);
  if (result) return result;
  if (view.state === 'completed') throw new Error(`embedding job ${view.jobId} has no result`);
  throw new HopperError(
    view.state === 'failed' ? 'unavailable' : view.state === 'cancelled' ? 'cancelled' : 'timeout',
    `embedding job ${view.jobId} ${view.state}${view.error ? `: ${view.error}` : ''}`,
  );
}

export function ingestOutput(view: JobView, documentId: string): IngestOutput {
  if (view.state === 'failed') {
    throw new HopperError(
      'job_failed',
      `ingest of '${documentId}' failed: ${view.error ?? 'unknown error'} (job ${view.jobId})`,
    );
  }
  const result = jobResult('ingest', view);
  return {
    jobId: view.jobId,
    documentId,
    state: view.state,
    ...(result ? { chunks: result.chunks, version: result.version } : {}),
  };
}
