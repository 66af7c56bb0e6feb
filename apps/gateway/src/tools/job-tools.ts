import {
  DEFAULT_COLLECTION,
  HopperError,
  contentHash,
  documentIdFromHash,
  ingestFingerprint,
  jobCatalog,
  limits,
  type IngestOutput,
  type JobView,
} from '@hopper/contracts';
import { checkDocument, resolveChunkOptions } from '@hopper/documents';
import { documentIdForPath, readFileUnderRoots } from './ingest-path.ts';
import type { CallContext, ToolDeps, ToolHandler, ToolInput } from './tool-context.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** What `ingest_document` needs beyond the shared tool dependencies. */
export interface IngestDeps {
  /** Absolute directories `path` ingestion may read from (HOPPER_INGEST_ROOTS); none: it is refused. */
  ingestRoots?: readonly string[];
}

export function jobTools(deps: ToolDeps & IngestDeps): {
  ingest_document: ToolHandler<'ingest_document'>;
  embed_texts: ToolHandler<'embed_texts'>;
  get_job: ToolHandler<'get_job'>;
  list_jobs: ToolHandler<'list_jobs'>;
  cancel_job: ToolHandler<'cancel_job'>;
} {
  const { jobs, embedder, redis, keys, logger } = deps;

  /**
   * Waits for a job while the caller listens, forwarding progress. If the caller goes away (a modern
   * client closing its stream) the job is cancelled: nobody is left to receive its result.
   */
  async function follow(jobId: string, call: CallContext, timeoutMs: number): Promise<JobView> {
    // The route lives in the caller's tenant's key space, so only that tenant's requests can write,
    // delete or use it, whatever session id another caller presents (see Keys.legacyRequest).
    const legacyKey = call.legacyRequest
      ? keys.legacyRequest(call.tenant, call.legacyRequest.sessionId, call.legacyRequest.requestId)
      : undefined;
    if (legacyKey) await redis.set(legacyKey, jobId, 'PX', timeoutMs + 60_000);
    try {
      const view = await jobs.waitForJob(call.tenant, jobId, {
        timeoutMs,
        signal: deps.shutdown ? AbortSignal.any([call.signal, deps.shutdown]) : call.signal,
        ...(call.progress ? { onProgress: call.progress } : {}),
      });
      if (call.signal.aborted && view.state !== 'completed' && view.state !== 'failed') {
        logger.info({ jobId }, 'caller went away; cancelling its job');
        return await jobs.cancel(call.tenant, jobId);
      }
      return view;
    } finally {
      if (legacyKey) await redis.del(legacyKey);
    }
  }

  return {
    async ingest_document(input, call) {
      const source = await readSource(input, deps.ingestRoots ?? []);
      const { body } = source;
      const filename = input.filename ?? source.filename;
      // The checks that need no parsing (size, format, declared type against content, encoding,
      // emptiness) run here, so bad input is refused before a job exists; the worker parses.
      const mediaType = checkDocument(
        {
          content:
            typeof body === 'string' ? body : new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
          ...(input.mediaType ? { mediaType: input.mediaType } : {}),
          ...(filename ? { filename } : {}),
        },
        { maxBytes: source.maxBytes },
      );
      let chunking: { maxChars: number; overlapChars: number } | undefined;
      try {
        chunking = input.chunking ? resolveChunkOptions(input.chunking) : undefined;
      } catch (error) {
        if (error instanceof RangeError)
          throw new HopperError('invalid_argument', `chunking: ${error.message}`);
        throw error;
      }
      const bodyHash = contentHash(body);
      const documentId = input.documentId ?? source.documentId ?? documentIdFromHash(bodyHash);
      const metadata = input.metadata ?? {};
      const title = input.title ? input.title : undefined;
      // Everything that shapes the stored version is in the fingerprint that makes the same ingest
      // one job: new metadata, title, media type or chunking for the same bytes make a new version.
      const fingerprint = ingestFingerprint(bodyHash, {
        mediaType,
        title,
        metadata,
        chunking: chunking ?? resolveChunkOptions(),
      });
      const submitted = await jobs.submitIngest(
        {
          tenant: call.tenant,
          collection: input.collection ?? DEFAULT_COLLECTION,
          documentId,
          metadata,
          contentHash: fingerprint,
          mediaType,
          encoding: typeof body === 'string' ? 'text' : 'binary',
          ...(title ? { title } : {}),
          ...(filename ? { filename } : {}),
          ...(chunking ? { chunking } : {}),
        },
        body,
      );
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
        const vectors = await embedder.embed(input.texts, { signal: call.signal });
        return {
          model: embedder.model,
          dimensions: vectors[0]?.length ?? 0,
          embeddings: vectors.map((v) => Array.from(v)),
        };
      }
      const jobId = await jobs.submitEmbed(call.tenant, input.texts);
      const view = await follow(jobId, call, jobCatalog.embed.waitTimeoutMs);
      if (view.state !== 'completed') {
        throw new HopperError(
          view.state === 'failed' ? 'unavailable' : view.state === 'cancelled' ? 'cancelled' : 'timeout',
          `embedding job ${jobId} ${view.state}${view.error ? `: ${view.error}` : ''}`,
        );
      }
      const embeddings = await jobs.takeEmbedOutput(call.tenant, jobId, input.texts.length);
      return { model: embedder.model, dimensions: embeddings[0]?.length ?? 0, embeddings };
    },

    get_job: (input, call) => jobs.get(call.tenant, input.jobId),

    list_jobs: (input, call) => jobs.list(call.tenant, input),

    async cancel_job(input, call) {
      const view = await jobs.cancel(call.tenant, input.jobId);
      return { jobId: view.jobId, state: view.state };
    },
  };
}

interface Source {
  body: string | Buffer;
  /** The size limit of this kind of source, in bytes. */
  maxBytes: number;
  filename?: string;
  documentId?: string;
}

/** The document's bytes or text, from whichever of the three sources the call used. */
async function readSource(input: ToolInput<'ingest_document'>, roots: readonly string[]): Promise<Source> {
  if (input.path !== undefined) {
    const file = await readFileUnderRoots(input.path, roots, limits.maxPathFileBytes);
    const documentId = documentIdForPath(file.relativePath);
    return {
      body: file.bytes,
      maxBytes: limits.maxPathFileBytes,
      filename: file.filename,
      ...(documentId ? { documentId } : {}),
    };
  }
  if (input.content !== undefined) {
    // The schema bounds `content` in characters; in UTF-8 that is at most three bytes each.
    return { body: input.content, maxBytes: limits.maxContentChars * 3 };
  }
  const base64 = (input.contentBase64 ?? '').replace(/\s+/g, '');
  if (!BASE64.test(base64) || base64.length % 4 === 1) {
    throw new HopperError('invalid_argument', 'contentBase64 is not valid base64');
  }
  return { body: Buffer.from(base64, 'base64'), maxBytes: Math.ceil((limits.maxContentBase64Chars * 3) / 4) };
}

function ingestOutput(view: JobView, documentId: string): IngestOutput {
  if (view.state === 'failed') {
    throw new HopperError(
      'job_failed',
      `ingest of '${documentId}' failed: ${view.error ?? 'unknown error'} (job ${view.jobId})`,
    );
  }
  const result = view.result ?? {};
  return {
    jobId: view.jobId,
    documentId,
    state: view.state,
    ...(typeof result.chunks === 'number' ? { chunks: result.chunks } : {}),
    ...(typeof result.version === 'number' ? { version: result.version } : {}),
  };
}
