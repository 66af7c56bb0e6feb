import * as z from 'zod';
import { batchOutcome, jobState } from './jobs.ts';
import { limits } from './limits.ts';
import { jobView } from './progress.ts';
import {
  collectionName,
  cursor,
  documentId,
  jobId,
  metadata,
  metadataFilter,
  metadataValue,
  pageSize,
} from './schemas.ts';

/*
 * The MCP tool contract: names, argument names, limits and output shapes are API. Inputs are strict
 * objects so a misspelled argument is refused instead of silently ignored.
 */

export const searchInput = z.strictObject({
  query: z.string().trim().min(1, 'query must not be empty').max(limits.maxQueryChars),
  topK: z.number().int().min(1).max(limits.maxTopK).default(limits.defaultTopK),
  collection: collectionName.optional(),
  filter: metadataFilter.optional(),
  /** `hybrid` (default): full-text (BM25) and vector ranking fused; `text` or `vector` alone. */
  mode: z.enum(['hybrid', 'text', 'vector']).default('hybrid'),
});
export const searchSignal = z.enum(['text', 'vector']);
export const searchHit = z.object({
  documentId: z.string(),
  chunkId: z.string(),
  score: z.number(),
  text: z.string(),
  metadata: z.record(z.string(), metadataValue),
  /** Headings the chunk sits under, outermost first (HTML, Markdown, DOCX, PDF headings; record labels). */
  headingPath: z.array(z.string()).optional(),
  /** 1-based page (PDF). */
  page: z.number().int().optional(),
  /** Character offsets of the chunk in the document's extracted text, `end` exclusive. */
  start: z.number().int().optional(),
  end: z.number().int().optional(),
  /** The signals that found the chunk: `text` (shares words with the query), `vector` (among the nearest vectors). */
  matched: z.array(searchSignal).optional(),
  /** Each signal's own score: BM25 for `text`, cosine similarity for `vector`. */
  scores: z.object({ text: z.number().optional(), vector: z.number().optional() }).optional(),
});
/**
 * Read-only results say whether they came from the cache and from which layer: `l1` in-process,
 * `l2` Redis. A result computed by this call has `cached: false` and no layer.
 */
export const cacheInfo = {
  cached: z.boolean(),
  cacheLayer: z.enum(['l1', 'l2']).optional(),
};
export type CacheInfo = { cached: boolean; cacheLayer?: 'l1' | 'l2' };

export const searchOutput = z.object({ results: z.array(searchHit), ...cacheInfo });

export const chunkingOptions = z.strictObject({
  maxChars: z.number().int().min(limits.minChunkChars).max(limits.maxChunkChars).optional(),
  overlapChars: z
    .number()
    .int()
    .min(0)
    .max(limits.maxChunkChars / 2)
    .optional(),
});

export const ingestInput = z
  .strictObject({
    content: z.string().max(limits.maxContentChars).optional(),
    contentBase64: z.string().max(limits.maxContentBase64Chars).optional(),
    /** An absolute path to a file under one of the configured ingest roots (HOPPER_INGEST_ROOTS). */
    path: z.string().min(1).max(limits.maxPathChars).optional(),
    mediaType: z.string().max(128).optional(),
    /** The original file name; its extension helps detect the format when `mediaType` is absent. */
    filename: z.string().min(1).max(255).optional(),
    /** How the document is cut into chunks (characters; about 4 per token in English). */
    chunking: chunkingOptions.optional(),
    documentId: documentId.optional(),
    title: z.string().max(limits.maxTitleChars).optional(),
    collection: collectionName.optional(),
    metadata: metadata.optional(),
    wait: z.boolean().default(true),
  })
  .refine((a) => [a.content, a.contentBase64, a.path].filter((source) => source !== undefined).length === 1, {
    message:
      'give exactly one of content (text), contentBase64 (bytes, with mediaType) or path (a file under the configured ingest roots)',
  });
export const ingestOutput = z.object({
  jobId: z.string(),
  documentId: z.string(),
  state: jobState,
  chunks: z.number().int().optional(),
  version: z.number().int().optional(),
  error: z.string().optional(),
});

/** One document of a batch: what `ingest_document` takes for an inline document, without the call's options. */
export const batchDocumentInput = z
  .strictObject({
    content: z.string().max(limits.maxContentChars).optional(),
    contentBase64: z.string().max(limits.maxContentBase64Chars).optional(),
    mediaType: z.string().max(128).optional(),
    filename: z.string().min(1).max(255).optional(),
    documentId: documentId.optional(),
    title: z.string().max(limits.maxTitleChars).optional(),
    metadata: metadata.optional(),
  })
  .refine((a) => (a.content === undefined) !== (a.contentBase64 === undefined), {
    message: 'give exactly one of content (text) or contentBase64 (bytes, with mediaType or filename)',
  });
export type BatchDocumentInput = z.infer<typeof batchDocumentInput>;

/**
 * A document of a batch that is not a valid `batchDocumentInput` does not refuse the call: it fails
 * alone, with its reason, and the others are stored. So the batch's items accept anything, and
 * what does not fit arrives at the handler as its reason.
 */
const batchItem = z.union([
  batchDocumentInput,
  z.unknown().transform((value) => ({ invalid: describeIssues(batchDocumentInput.safeParse(value).error) })),
]);

function describeIssues(error: z.ZodError | undefined): string {
  if (!error) return 'invalid document';
  return error.issues.map((issue) => `${issue.path.join('.') || 'document'}: ${issue.message}`).join('; ');
}

export const ingestDocumentsInput = z
  .strictObject({
    documents: z.array(batchItem).min(1).max(limits.maxBatchDocuments).optional(),
    /** A directory under one of the configured ingest roots: its supported files, recursively. */
    path: z.string().min(1).max(limits.maxPathChars).optional(),
    collection: collectionName.optional(),
    chunking: chunkingOptions.optional(),
    wait: z.boolean().default(true),
  })
  .refine((a) => (a.documents === undefined) !== (a.path === undefined), {
    message:
      'give exactly one of documents (an array) or path (a directory under the configured ingest roots)',
  });
export const ingestDocumentsOutput = z.object({
  jobId: z.string(),
  state: jobState,
  collection: z.string(),
  /** Documents in the batch (refused ones included). */
  total: z.number().int(),
  stored: z.number().int().optional(),
  unchanged: z.number().int().optional(),
  failed: z.number().int().optional(),
  /** Every document's outcome, in the order sent (once the job has completed). */
  documents: z.array(batchOutcome).optional(),
  /** Files of a directory that were not taken, and why (unsupported type, too large, unreadable). */
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })).optional(),
  error: z.string().optional(),
});

export const embedInput = z.strictObject({
  texts: z
    .array(z.string().min(1, 'texts must not contain empty strings').max(limits.maxEmbedTextChars))
    .min(1)
    .max(limits.maxEmbedTexts),
  model: z.string().max(256).optional(),
});
export const embedOutput = z.object({
  model: z.string(),
  dimensions: z.number().int(),
  embeddings: z.array(z.array(z.number())),
});

export const getJobInput = z.strictObject({ jobId });
export const getJobOutput = jobView.extend({
  cached: cacheInfo.cached.optional(),
  cacheLayer: cacheInfo.cacheLayer,
});

export const listJobsInput = z.strictObject({
  state: jobState.optional(),
  limit: pageSize.default(limits.defaultPageSize),
  cursor: cursor.optional(),
});
export const listJobsOutput = z.object({ jobs: z.array(jobView), nextCursor: z.string().optional() });

export const cancelJobInput = z.strictObject({ jobId });
export const cancelJobOutput = z.object({ jobId: z.string(), state: jobState });

export const documentView = z.object({
  documentId: z.string(),
  collection: z.string(),
  title: z.string(),
  mediaType: z.string(),
  chunks: z.number().int(),
  version: z.number().int(),
  metadata: z.record(z.string(), metadataValue),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type DocumentView = z.infer<typeof documentView>;

export const listDocumentsInput = z.strictObject({
  collection: collectionName.optional(),
  limit: pageSize.default(limits.defaultPageSize),
  cursor: cursor.optional(),
});
export const listDocumentsOutput = z.object({
  cached: cacheInfo.cached.optional(),
  cacheLayer: cacheInfo.cacheLayer,
  documents: z.array(documentView),
  nextCursor: z.string().optional(),
});

export const getDocumentInput = z.strictObject({ documentId, collection: collectionName.optional() });
export const getDocumentOutput = documentView.extend({
  cached: cacheInfo.cached.optional(),
  cacheLayer: cacheInfo.cacheLayer,
});

export const deleteDocumentInput = z.strictObject({ documentId, collection: collectionName.optional() });
export const deleteDocumentOutput = z.object({ documentId: z.string(), deleted: z.boolean() });

export type SearchInput = z.infer<typeof searchInput>;
export type SearchOutput = z.infer<typeof searchOutput>;
export type IngestInput = z.infer<typeof ingestInput>;
export type IngestOutput = z.infer<typeof ingestOutput>;
export type IngestDocumentsInput = z.infer<typeof ingestDocumentsInput>;
export type IngestDocumentsOutput = z.infer<typeof ingestDocumentsOutput>;
export type EmbedInput = z.infer<typeof embedInput>;
export type EmbedOutput = z.infer<typeof embedOutput>;
export type ListJobsInput = z.infer<typeof listJobsInput>;
export type ListJobsOutput = z.infer<typeof listJobsOutput>;
export type ListDocumentsInput = z.infer<typeof listDocumentsInput>;
export type ListDocumentsOutput = z.infer<typeof listDocumentsOutput>;

interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

interface ToolContract {
  title: string;
  description: string;
  input: z.ZodType;
  output: z.ZodType;
  annotations: ToolAnnotations;
}

const readOnly: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

/** The ten tools: one table shared by the MCP server, the REST mirror and the tests. */
export const toolContracts = {
  search: {
    title: 'Search documents',
    description:
      'Search ingested documents. Returns the topK best chunks with their document id, score, text, document metadata, heading path, page (PDF) and which signals matched. `mode`: "hybrid" (default; full-text BM25 and vector similarity fused), "text" (BM25 only) or "vector" (embeddings only). `filter` matches document metadata (a value for equality, an array for "any of") inside the query.',
    input: searchInput,
    output: searchOutput,
    annotations: readOnly,
  },
  ingest_document: {
    title: 'Ingest a document',
    description:
      "Parse, chunk, embed and store a document: plain text, Markdown, HTML, PDF, DOCX, JSON, JSON Lines, CSV or TSV. Give `content` (text), `contentBase64` (bytes; the format comes from `mediaType`, else the `filename` extension, else the content) or `path` (a file under the server's configured ingest roots). `chunking: {maxChars, overlapChars}` sets the chunk size. Re-ingesting a document replaces its previous version in one step; new metadata, title, media type or chunking for the same content make a new version too, while the same ingest twice is one job. With `wait: true` (default) the call streams progress and returns when the job ends; with `wait: false` it returns a job handle at once (follow it with get_job), or the outcome when the same ingest has already completed.",
    input: ingestInput,
    output: ingestOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  ingest_documents: {
    title: 'Ingest many documents',
    description: `Ingest up to ${limits.maxBatchDocuments} documents as one job: \`documents\` (each with \`content\` or \`contentBase64\`, and optionally documentId, title, mediaType, filename, metadata), or \`path\`, a directory under the server's configured ingest roots (its supported files, recursively; the answer lists the files skipped and why). A JSON call carries up to about 1,000 small documents (4 MiB); larger sets go through REST as NDJSON. Each document is stored, unchanged (already its current version) or failed with its reason; one bad document never stops the others. With \`wait: true\` (default) the call streams progress per document and returns every document's outcome; with \`wait: false\` it returns the job handle at once (follow it with get_job). Cancelling the job stops it between documents: those already stored stay stored.`,
    input: ingestDocumentsInput,
    output: ingestDocumentsOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  embed_texts: {
    title: 'Embed texts',
    description: `Embed up to ${limits.maxEmbedTexts} texts with the server's embedding model. Small batches answer inline; large ones run on the worker queue.`,
    input: embedInput,
    output: embedOutput,
    annotations: { ...readOnly, openWorldHint: true },
  },
  get_job: {
    title: 'Get a job',
    description: 'State, progress, stage and result (or error) of a job.',
    input: getJobInput,
    output: getJobOutput,
    annotations: readOnly,
  },
  list_jobs: {
    title: 'List jobs',
    description: 'Recent jobs, newest first, optionally by state. Ingest jobs carry their documentId.',
    input: listJobsInput,
    output: listJobsOutput,
    annotations: readOnly,
  },
  cancel_job: {
    title: 'Cancel a job',
    description:
      'Cancel a queued or running job. A cancelled ingest leaves the previous version of its document in place. Cancelling a finished job changes nothing and returns its state.',
    input: cancelJobInput,
    output: cancelJobOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
  list_documents: {
    title: 'List documents',
    description: 'Documents in a collection (or all collections), in id order, paginated.',
    input: listDocumentsInput,
    output: listDocumentsOutput,
    annotations: readOnly,
  },
  get_document: {
    title: 'Get a document',
    description: 'Title, media type, chunk count, version and metadata of one document.',
    input: getDocumentInput,
    output: getDocumentOutput,
    annotations: readOnly,
  },
  delete_document: {
    title: 'Delete a document',
    description: 'Delete a document and all its chunks. Deleting a missing document returns deleted: false.',
    input: deleteDocumentInput,
    output: deleteDocumentOutput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  },
} as const satisfies Record<string, ToolContract>;

export type ToolName = keyof typeof toolContracts;
export const toolNames = Object.keys(toolContracts) as ToolName[];
