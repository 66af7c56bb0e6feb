/**
 * Input limits shared by the tool schemas, the gateway and the worker. Each is a product decision a
 * client can rely on; raising one is an API change and belongs in the limits table of docs/limits.md.
 */
export const limits = {
  /** Text of one document sent inline (`content`), in UTF-16 code units. */
  maxContentChars: 3_000_000,
  /** Base64 text of one binary document (`contentBase64`): ~3 MB of bytes, under the 4 MiB body cap. */
  maxContentBase64Chars: 4_000_000,
  /**
   * A file ingested by `path`: read by the gateway from a configured root, not sent in the request,
   * so it may be larger than the request body. Its bytes wait in Redis for the worker, which bounds it.
   */
  maxPathFileBytes: 32 * 1024 * 1024,
  maxPathChars: 4_096,
  /** `chunking.maxChars` bounds: below 100 a chunk holds no context; above 20,000 it exceeds embedding models' inputs. */
  minChunkChars: 100,
  maxChunkChars: 20_000,
  maxQueryChars: 4_000,
  maxTopK: 50,
  defaultTopK: 5,
  maxEmbedTexts: 2_048,
  maxEmbedTextChars: 32_000,
  /** `embed_texts` calls up to this many texts (and chars) run inline on the gateway; larger go to the queue. */
  inlineEmbedMaxTexts: 32,
  inlineEmbedMaxChars: 64_000,
  maxTitleChars: 512,
  /**
   * Documents in one batch ingest (`ingest_documents`, `POST /v1/documents/batch`): one job, one job
   * slot. A JSON call is also bounded by the request body (4 MiB) and member (10,000) caps, which
   * hold about 1,000 small documents; NDJSON uploads (`POST /v1/documents/batch` with
   * `application/x-ndjson`) and directories carry up to this many.
   */
  maxBatchDocuments: 10_000,
  /** Bytes of all documents of one batch together, as the worker will hold them. */
  maxBatchBytes: 64 * 1024 * 1024,
  /**
   * Document metadata is flat (depth 1: values are strings, numbers or booleans), because filters
   * run on its key/value pairs inside the store. It is copied onto every chunk, so its total size
   * (UTF-8 bytes of its JSON) is bounded too: a 1,000-chunk document carries it 1,000 times.
   */
  maxMetadataKeys: 32,
  maxMetadataValueChars: 1_024,
  maxMetadataBytes: 8_192,
  maxFilterKeys: 16,
  maxFilterValues: 100,
  maxPageSize: 100,
  defaultPageSize: 20,
  /** Upper bound on an HTTP request body the gateway reads (the MCP SDK's own default as well). */
  maxRequestBodyBytes: 4 * 1024 * 1024,
  /**
   * Arrays and objects nested in one MCP request. Hopper's own arguments nest three or four deep;
   * the SDK validates messages recursively and overflows its stack on a few thousand levels.
   */
  maxJsonDepth: 64,
  /**
   * Keys and array items in one request body, counted together (a batch counts as one body). The
   * largest call Hopper takes has ~2,100 (`embed_texts` with 2,048 texts); each member costs schema
   * validation time on the gateway's event loop, so a body of 150,000 small keys must not get there.
   */
  maxRequestMembers: 10_000,
  /**
   * Keys (nested ones included) and UTF-8 bytes of one message's `params._meta`. Clients put a
   * progress token and, from 2026-07-28, a protocol envelope there: a few dozen keys at most.
   */
  maxMetaKeys: 64,
  maxMetaBytes: 64 * 1024,
  /**
   * Task ids and resource URIs one `subscriptions/listen` names, together. Each one watched is a
   * pub/sub channel on the gateway and a record read per change; a client following its own ingests
   * names a few. Open subscriptions are bounded per tenant and per gateway (the gateway's limits).
   */
  maxSubscriptionIds: 100,
} as const;
