import {
  DEFAULT_COLLECTION,
  HopperError,
  contentHash,
  documentIdFromHash,
  ingestFingerprint,
  limits,
  metadata,
  type IngestPayload,
  type Metadata,
} from '@hopper/contracts';
import { checkDocument, notTextReason, resolveChunkOptions } from '@hopper/documents';

/*
 * What an ingest call's arguments become before a job exists: the checks that need no parsing, the
 * document id, the recorded metadata and the ingest's fingerprint. Shared by `ingest_document` (one
 * document, one job) and `ingest_documents` (many documents, one job), so a document means the same
 * thing whichever tool carried it.
 */

/** What an ingest says of its document beyond the body (both tools' arguments have this shape). */
export interface IngestArguments {
  mediaType?: string | undefined;
  filename?: string | undefined;
  documentId?: string | undefined;
  title?: string | undefined;
  metadata?: Metadata | undefined;
  collection?: string | undefined;
  chunking?: { maxChars?: number | undefined; overlapChars?: number | undefined } | undefined;
}

export interface Source {
  body: string | Buffer;
  /** The document's metadata, when it is not the caller's as given (a path ingest adds its path). */
  metadata?: Metadata;
  /** The size limit of this kind of source, in bytes. */
  maxBytes: number;
  filename?: string;
  documentId?: string;
}

/**
 * Checks what needs no parsing (size, format, declared type against content, encoding, emptiness),
 * so bad input is refused before a job exists, and builds the job's payload; the worker parses.
 */
export function prepareIngest(
  input: IngestArguments,
  tenant: string,
  source: Source,
): { payload: IngestPayload; body: string | Buffer } {
  const { body } = source;
  const filename = input.filename ?? source.filename;
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
  const payload: IngestPayload = {
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
  };
  return { payload, body };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The document's text or bytes, sent in the call (`content` or `contentBase64`). `content` that is
 * clearly not text (see notTextReason) is refused with `invalid_argument`, pointing to `contentBase64`.
 */
export function inlineSource(input: {
  content?: string | undefined;
  contentBase64?: string | undefined;
}): Source {
  if (input.content !== undefined) {
    // A file's bytes in the text field would be indexed as gibberish: refuse them and say where they go.
    const notText = notTextReason(input.content);
    if (notText) {
      throw new HopperError(
        'invalid_argument',
        `content is not text: it looks like ${notText}. Send a file's bytes base64-encoded in ` +
          'contentBase64 instead (with its filename or mediaType), or send its extracted text as content',
      );
    }
    // The schema bounds `content` in characters; in UTF-8 that is at most three bytes each.
    return { body: input.content, maxBytes: limits.maxContentChars * 3 };
  }
  const base64 = (input.contentBase64 ?? '').replace(/\s+/g, '');
  if (!BASE64.test(base64) || base64.length % 4 === 1) {
    throw new HopperError('invalid_argument', 'contentBase64 is not valid base64');
  }
  return { body: Buffer.from(base64, 'base64'), maxBytes: Math.ceil((limits.maxContentBase64Chars * 3) / 4) };
}

export function chunkingOf(input: IngestArguments): { maxChars: number; overlapChars: number } | undefined {
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
 * file's path). The one place it is computed, for the path pre-check and the submit alike.
 */
export function fingerprintOf(
  bodyHash: string,
  mediaType: string,
  input: IngestArguments,
  metadata: Metadata,
): string {
  return ingestFingerprint(bodyHash, {
    mediaType,
    title: input.title ? input.title : undefined,
    metadata,
    chunking: chunkingOf(input) ?? resolveChunkOptions(),
  });
}

/**
 * The metadata key a path ingest records its file's path under (absolute, as given): what tells a
 * re-ingest of the same file from another file whose path gives the same id. Set only by Hopper.
 */
export const SOURCE_PATH_KEY = 'hopper.path';

/** The recorded form of a path: itself, or its hash when it is longer than a metadata value may be. */
export function sourcePathOf(path: string): string {
  return path.length <= limits.maxMetadataValueChars ? path : `sha256:${contentHash(path)}`;
}

export function withSourcePath(given: Metadata, source: string): Metadata {
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

export function withoutSourcePath(given: Metadata): Metadata {
  if (!Object.hasOwn(given, SOURCE_PATH_KEY)) return given;
  throw new HopperError(
    'invalid_argument',
    `metadata '${SOURCE_PATH_KEY}' is set by Hopper (the path of a file ingested by path); use another key`,
  );
}
