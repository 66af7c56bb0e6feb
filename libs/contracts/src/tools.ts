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
 * objects so a misspelled argument is refused instead of silently ignored. Every input property has
 * a description (meaning, default, limits, an example where it helps): it is all a model calling the
 * tools sees of them, in `tools/list` and in the OpenAPI document alike.
 */

const COLLECTION_HELP =
  'The collection (a named set of documents) to use: 1-64 letters, digits, _ or -, starting with a letter or digit. Default "default".';
const CURSOR_HELP = 'The nextCursor of the previous page, to read the next one; omit for the first page.';
const PAGE_HELP = `How many to return, 1-${limits.maxPageSize}; default ${limits.defaultPageSize}.`;
const DOCUMENT_ID_HELP =
  'The document\'s id within its collection: up to 256 letters, digits and . _ : @ / - ~ (letters of any script too), e.g. "guides/setup.md".';
const JOB_ID_HELP =
  "The job's id, as returned by ingest_document, ingest_documents, embed_texts or list_jobs.";

export const searchInput = z.strictObject({
  query: z
    .string()
    .trim()
    .min(1, 'query must not be empty')
    .max(limits.maxQueryChars)
    .meta({
      description: `What to look for, in words or as a question (1-${limits.maxQueryChars} characters).`,
      examples: ['how often is the lamp wick trimmed?'],
    }),
  topK: z
    .number()
    .int()
    .min(1)
    .max(limits.maxTopK)
    .default(limits.defaultTopK)
    .describe(`How many chunks to return, best first: 1-${limits.maxTopK}; default ${limits.defaultTopK}.`),
  collection: collectionName.optional().describe(`${COLLECTION_HELP} Search covers this collection only.`),
  filter: metadataFilter.optional().meta({
    description: `Only chunks of documents whose metadata matches every key: a value for equality, an array for "any of" (at most ${limits.maxFilterKeys} keys, ${limits.maxFilterValues} values per key). Omit to search everything.`,
    examples: [{ lang: 'en', year: [2024, 2025] }],
  }),
  /** `hybrid` (default): full-text (BM25) and vector ranking fused; `text` or `vector` alone. */
  mode: z
    .enum(['hybrid', 'text', 'vector'])
    .default('hybrid')
    .describe(
      'How to rank: "hybrid" (default) fuses full-text (BM25, shared words) and vector (meaning) ranking; "text" or "vector" uses one alone.',
    ),
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
  maxChars: z
    .number()
    .int()
    .min(limits.minChunkChars)
    .max(limits.maxChunkChars)
    .optional()
    .describe(
      `The longest chunk, in characters (about 4 per token in English): ${limits.minChunkChars}-${limits.maxChunkChars}; default 1200.`,
    ),
  overlapChars: z
    .number()
    .int()
    .min(0)
    .max(limits.maxChunkChars / 2)
    .optional()
    .describe(
      'How many characters a chunk repeats from the end of the previous one, so a sentence cut at a boundary is whole in one of them: less than half of maxChars; default 150 (or maxChars / 8 when smaller).',
    ),
});

const CHUNKING_HELP =
  'How the document is cut into chunks (the pieces that are embedded and returned by search); omit for the defaults.';
const WAIT_HELP =
  'true (default): the call streams progress and returns when the job ends. false: it returns the job handle at once; follow it with get_job.';
const CONTENT_HELP = `The document as text (up to ${limits.maxContentChars.toLocaleString('en-US')} characters): plain text, Markdown, HTML, JSON, JSON Lines, CSV or TSV. A file's bytes (PDF, DOCX, images, programs) are refused here: send them as contentBase64.`;
const CONTENT_BASE64_HELP = `The document's bytes, base64-encoded (up to ${limits.maxContentBase64Chars.toLocaleString('en-US')} characters, about 3 MB): the way PDF and DOCX files must come. Give mediaType or filename unless the content's signature says the format.`;
const MEDIA_TYPE_HELP =
  'The format, e.g. "application/pdf", "text/markdown", "text/csv"; default: from the filename extension, else detected from the content (CSV is never detected: declare it or name the file .csv).';
const FILENAME_HELP =
  'The original file name, e.g. "manual.pdf"; its extension tells the format when mediaType is absent. Not an id: documentId is separate.';
const TITLE_HELP = `The document's title (up to ${limits.maxTitleChars} characters); default: the title found in the document (HTML <title>, a first heading), else none.`;
const METADATA_HELP = `Flat key/value pairs kept with the document and usable in search filters: keys of 1-64 letters, digits, _ . or -; values strings, numbers or booleans (no objects, arrays or null); at most ${limits.maxMetadataKeys} keys and ${limits.maxMetadataBytes} bytes as JSON.`;

export const ingestInput = z
  .strictObject({
    content: z
      .string()
      .max(limits.maxContentChars)
      .optional()
      .describe(`${CONTENT_HELP} Give exactly one of content, contentBase64 or path.`),
    contentBase64: z.string().max(limits.maxContentBase64Chars).optional().describe(CONTENT_BASE64_HELP),
    /** An absolute path to a file under one of the configured ingest roots (HOPPER_INGEST_ROOTS). */
    path: z
      .string()
      .min(1)
      .max(limits.maxPathChars)
      .optional()
      .meta({
        description:
          "An absolute path to a file the server reads itself, under one of its configured ingest roots (HOPPER_INGEST_ROOTS; refused when none are set). Default documentId: the file's path under its root.",
        examples: ['/srv/docs/guides/setup.md'],
      }),
    mediaType: z.string().max(128).optional().describe(MEDIA_TYPE_HELP),
    /** The original file name; its extension helps detect the format when `mediaType` is absent. */
    filename: z.string().min(1).max(255).optional().describe(FILENAME_HELP),
    /** How the document is cut into chunks (characters; about 4 per token in English). */
    chunking: chunkingOptions.optional().describe(CHUNKING_HELP),
    documentId: documentId
      .optional()
      .describe(
        `${DOCUMENT_ID_HELP} Ingesting an existing id replaces that document. Default: from the path for path ingests, else derived from the content's hash.`,
      ),
    title: z.string().max(limits.maxTitleChars).optional().describe(TITLE_HELP),
    collection: collectionName.optional().describe(COLLECTION_HELP),
    metadata: metadata
      .optional()
      .meta({ description: METADATA_HELP, examples: [{ lang: 'en', year: 2025 }] }),
    wait: z.boolean().default(true).describe(WAIT_HELP),
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
    content: z
      .string()
      .max(limits.maxContentChars)
      .optional()
      .describe(`${CONTENT_HELP} Give exactly one of content or contentBase64.`),
    contentBase64: z.string().max(limits.maxContentBase64Chars).optional().describe(CONTENT_BASE64_HELP),
    mediaType: z.string().max(128).optional().describe(MEDIA_TYPE_HELP),
    filename: z.string().min(1).max(255).optional().describe(FILENAME_HELP),
    documentId: documentId
      .optional()
      .describe(
        `${DOCUMENT_ID_HELP} Once per batch. Ingesting an existing id replaces that document. Default: derived from the content's hash.`,
      ),
    title: z.string().max(limits.maxTitleChars).optional().describe(TITLE_HELP),
    metadata: metadata
      .optional()
      .meta({ description: METADATA_HELP, examples: [{ lang: 'en', year: 2025 }] }),
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
  z
    .unknown()
    .meta({
      description:
        'Anything else is taken too, and that document alone fails with its reason (the others are stored).',
    })
    .transform((value) => ({ invalid: describeIssues(batchDocumentInput.safeParse(value).error) })),
]);

function describeIssues(error: z.ZodError | undefined): string {
  if (!error) return 'invalid document';
  return error.issues.map((issue) => `${issue.path.join('.') || 'document'}: ${issue.message}`).join('; ');
}

export const ingestDocumentsInput = z
  .strictObject({
    documents: z
      .array(batchItem)
      .min(1)
      .max(limits.maxBatchDocuments)
      .optional()
      .meta({
        description: `The documents, 1-${limits.maxBatchDocuments} (a JSON call holds about 1,000 small ones within its 4 MiB), each with content or contentBase64. A document that is not valid fails alone with its reason. Give exactly one of documents or path.`,
        examples: [[{ documentId: 'notes/tides', content: '# Tides\n\nHigh water comes twice a day.' }]],
      }),
    /** A directory under one of the configured ingest roots: its supported files, recursively. */
    path: z
      .string()
      .min(1)
      .max(limits.maxPathChars)
      .optional()
      .meta({
        description:
          "An absolute path to a directory under one of the server's configured ingest roots: its supported files, recursively, each with its path under the root as documentId. The answer lists the files skipped and why.",
        examples: ['/srv/docs/guides'],
      }),
    collection: collectionName.optional().describe(`${COLLECTION_HELP} For every document of the batch.`),
    chunking: chunkingOptions.optional().describe(`${CHUNKING_HELP} For every document of the batch.`),
    wait: z.boolean().default(true).describe(WAIT_HELP),
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
    .max(limits.maxEmbedTexts)
    .meta({
      description: `The texts to embed, 1-${limits.maxEmbedTexts}, each 1-${limits.maxEmbedTextChars} characters; the embeddings come back in the same order.`,
      examples: [['harbour', 'lighthouse keeper']],
    }),
  model: z
    .string()
    .max(256)
    .optional()
    .describe(
      "The embedding model expected; the call is refused when the server embeds with another (the answer names it). Default: the server's model.",
    ),
});
export const embedOutput = z.object({
  model: z.string(),
  dimensions: z.number().int(),
  embeddings: z.array(z.array(z.number())),
});

export const getJobInput = z.strictObject({ jobId: jobId.describe(JOB_ID_HELP) });
export const getJobOutput = jobView.extend({
  cached: cacheInfo.cached.optional(),
  cacheLayer: cacheInfo.cacheLayer,
});

export const listJobsInput = z.strictObject({
  state: jobState.optional().describe('Only jobs in this state; default: jobs in any state.'),
  limit: pageSize.default(limits.defaultPageSize).describe(PAGE_HELP),
  cursor: cursor.optional().describe(CURSOR_HELP),
});
export const listJobsOutput = z.object({ jobs: z.array(jobView), nextCursor: z.string().optional() });

export const cancelJobInput = z.strictObject({ jobId: jobId.describe(JOB_ID_HELP) });
export const cancelJobOutput = z.object({
  jobId: z.string(),
  state: jobState,
  /**
   * Present when the call did not cancel the job: it had already finished ("too late: the job had
   * already completed ..."), it finished while the cancel was on its way (its result stands), or it
   * has not stopped yet.
   */
  message: z.string().optional(),
});

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
  collection: collectionName
    .optional()
    .describe('Only documents of this collection (1-64 letters, digits, _ or -); default: every collection.'),
  limit: pageSize.default(limits.defaultPageSize).describe(PAGE_HELP),
  cursor: cursor.optional().describe(CURSOR_HELP),
});
export const listDocumentsOutput = z.object({
  cached: cacheInfo.cached.optional(),
  cacheLayer: cacheInfo.cacheLayer,
  documents: z.array(documentView),
  nextCursor: z.string().optional(),
});

export const getDocumentInput = z.strictObject({
  documentId: documentId.describe(DOCUMENT_ID_HELP),
  collection: collectionName.optional().describe(COLLECTION_HELP),
});
export const getDocumentOutput = documentView.extend({
  cached: cacheInfo.cached.optional(),
  cacheLayer: cacheInfo.cacheLayer,
});

export const listChunksInput = z.strictObject({
  documentId: documentId.describe(DOCUMENT_ID_HELP),
  collection: collectionName.optional().describe(COLLECTION_HELP),
  limit: pageSize
    .default(limits.defaultPageSize)
    .describe(`How many chunks to return, in document order: ${PAGE_HELP}`),
  cursor: cursor
    .optional()
    .describe(
      `${CURSOR_HELP} A cursor holds for the version it was read from: once the document is replaced, start again without one.`,
    ),
});
export const chunkView = z.object({
  /** `${documentId}:${version}:${index}`, as search results name it. */
  chunkId: z.string(),
  /** 0-based position in the document. */
  index: z.number().int(),
  text: z.string(),
  /** Headings the chunk sits under, outermost first. */
  headingPath: z.array(z.string()),
  /** Character offsets of the chunk in the document's extracted text, `end` exclusive. */
  start: z.number().int(),
  end: z.number().int(),
  /** 1-based page (PDF). */
  page: z.number().int().optional(),
});
export type ChunkView = z.infer<typeof chunkView>;
export const listChunksOutput = z.object({
  cached: cacheInfo.cached.optional(),
  cacheLayer: cacheInfo.cacheLayer,
  documentId: z.string(),
  collection: z.string(),
  /** The document version the chunks belong to. */
  version: z.number().int(),
  /** How many chunks the version has in all. */
  totalChunks: z.number().int(),
  chunks: z.array(chunkView),
  nextCursor: z.string().optional(),
});

export const deleteDocumentInput = z.strictObject({
  documentId: documentId.describe(DOCUMENT_ID_HELP),
  collection: collectionName.optional().describe(COLLECTION_HELP),
});
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
export type ListChunksInput = z.infer<typeof listChunksInput>;
export type ListChunksOutput = z.infer<typeof listChunksOutput>;

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

/** The eleven tools: one table shared by the MCP server, the REST mirror and the tests. */
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
      "Cancel a queued or running job. A cancelled ingest leaves the previous version of its document in place, and the job keeps the progress it had reached. A cancel that comes too late (the job already finished, or finished while the cancel was on its way: an ingest already writing its new version completes) changes nothing: the answer has the job's state and a `message` saying so. Without `message`, `state` says what the cancel did.",
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
  list_chunks: {
    title: "List a document's chunks",
    description:
      "The chunks of a document's current version, in document order: each with its chunk id (as search results name it), position, text, heading path, character offsets and page (PDF), `limit` at a time; follow `nextCursor` for the rest. Shows how a document was cut up, and what surrounds a search hit.",
    input: listChunksInput,
    output: listChunksOutput,
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
