import {
  DEFAULT_COLLECTION,
  HopperError,
  contentHash,
  documentIdFromHash,
  ingestFingerprint,
  jobCatalog,
  limits,
  metadata,
  type IngestOutput,
  type Metadata,
  type JobView,
} from '@hopper/contracts';
import { checkDocument, mediaTypeFromName, resolveChunkOptions } from '@hopper/documents';
import { releaseOwned } from '@hopper/redis';
import type { SubmittedJob } from '../jobs-service.ts';
import { documentIdForPath, openFileUnderRoots } from './ingest-path.ts';
import { PathReads } from './path-reads.ts';
import type { CallContext, ToolDeps, ToolHandler, ToolInput } from './tool-context.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function jobTools(deps: ToolDeps): {
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
    const chunking = chunkingOf(input);
    const bodyHash = contentHash(body);
    const documentId = input.documentId ?? source.documentId ?? documentIdFromHash(bodyHash);
    const recorded = source.metadata ?? withoutSourcePath(input.metadata ?? {});
    const submitted = await jobs.submitIngest(
      {
        tenant,
        collection: input.collection ?? DEFAULT_COLLECTION,
        documentId,
        metadata: recorded,
        contentHash: fingerprintOf(bodyHash, mediaType, input, recorded),
        mediaType,
        encoding: typeof body === 'string' ? 'text' : 'binary',
        ...(input.title ? { title: input.title } : {}),
        ...(filename ? { filename } : {}),
        ...(chunking ? { chunking } : {}),
      },
      body,
    );
    return { documentId, submitted };
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
  /** The document's metadata, when it is not the caller's as given (a path ingest adds its path). */
  metadata?: Metadata;
  /** The size limit of this kind of source, in bytes. */
  maxBytes: number;
  filename?: string;
  documentId?: string;
}

/** How long a path ingest's claim on a new document id lasts (see refuseCollision). */
const PATH_CLAIM_MS = 60 * 60 * 1000;

function conflict(documentId: string, what: string): HopperError {
  return new HopperError(
    'conflict',
    `document '${documentId}' ${what}; pass documentId to store this file under another id (or delete the document first)`,
  );
}

/**
 * The metadata key a path ingest records its file's path under (absolute, as given): what tells a
 * re-ingest of the same file from another file whose path gives the same id. Set only by Hopper.
 */
const SOURCE_PATH_KEY = 'hopper.path';

/** The recorded form of a path: itself, or its hash when it is longer than a metadata value may be. */
function sourcePathOf(path: string): string {
  return path.length <= limits.maxMetadataValueChars ? path : `sha256:${contentHash(path)}`;
}

function withSourcePath(given: Metadata, source: string): Metadata {
  const merged = { ...withoutSourcePath(given), [SOURCE_PATH_KEY]: source };
  if (!metadata.safeParse(merged).success) {
    throw new HopperError(
      'invalid_argument',
      `a path ingest records its file's path in metadata '${SOURCE_PATH_KEY}': leave room for it ` +
        `(at most ${limits.maxMetadataKeys - 1} keys of your own, and ${limits.maxMetadataBytes} bytes with it)`,
    );
  }
  return merged;
}

function withoutSourcePath(given: Metadata): Metadata {
  if (!Object.hasOwn(given, SOURCE_PATH_KEY)) return given;
  throw new HopperError(
    'invalid_argument',
    `metadata '${SOURCE_PATH_KEY}' is set by Hopper (the path of a file ingested by path); use another key`,
  );
}

interface Submitted {
  documentId: string;
  submitted: SubmittedJob;
}

/** The document's text or bytes, sent in the call (`content` or `contentBase64`). */
function inlineSource(input: ToolInput<'ingest_document'>): Source {
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

function chunkingOf(
  input: ToolInput<'ingest_document'>,
): { maxChars: number; overlapChars: number } | undefined {
  try {
    return input.chunking ? resolveChunkOptions(input.chunking) : undefined;
  } catch (error) {
    if (error instanceof RangeError) throw new HopperError('invalid_argument', `chunking: ${error.message}`);
    throw error;
  }
}

/**
 * What makes the same ingest one job (see ingestFingerprint): the content's hash and everything
 * else that shapes the stored version, so new metadata, title, media type or chunking for the same
 * bytes make a new version. `metadata` is the document's as stored (a path ingest's includes its
 * file's path). The one place the tool computes it, for the path pre-check and the submit alike.
 */
function fingerprintOf(
  bodyHash: string,
  mediaType: string,
  input: ToolInput<'ingest_document'>,
  metadata: Metadata,
): string {
  return ingestFingerprint(bodyHash, {
    mediaType,
    title: input.title ? input.title : undefined,
    metadata,
    chunking: chunkingOf(input) ?? resolveChunkOptions(),
  });
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
