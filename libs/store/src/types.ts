/** A metadata value: flat, so it can be matched exactly inside the store query. */
export type MetadataValue = string | number | boolean;

/** A document's metadata: flat key/value pairs, keys matching {@link METADATA_KEY_PATTERN}. */
export type Metadata = Record<string, MetadataValue>;

/** One embedded chunk of a document, in document order. */
export interface ChunkInput {
  text: string;
  /** Headings from the document root down to this chunk's section. */
  headingPath: string[];
  /** Character offsets of the chunk in the extracted document text, `end` exclusive. */
  start: number;
  end: number;
  /** 1-based page, for paged formats (PDF). */
  page?: number;
  vector: Float32Array;
  /**
   * What the full-text index sees for this chunk; default `text`. Callers pass the text with its
   * context (document title, heading path), the same text they embedded.
   */
  searchText?: string;
}

/** Everything the store keeps about a document apart from its chunks. */
export interface DocumentInput {
  tenant: string;
  collection: string;
  documentId: string;
  title: string;
  mediaType: string;
  contentHash: string;
  metadata: Metadata;
  /** Embedding model id that produced the chunk vectors; one model per collection. */
  model: string;
}

/** A stored document as returned by reads. */
/**
 * A document by its key's parts: what the listing orders and the record copies are kept by (the
 * listing's place for it is (collection, documentId)).
 */
export interface ListedDocument {
  tenant: string;
  collection: string;
  documentId: string;
}

export interface DocumentRecord extends DocumentInput {
  /** 1 on first write, previous + 1 on every replacement. */
  version: number;
  /** Number of chunks of the current version. */
  chunks: number;
  /** ISO 8601 timestamps. */
  createdAt: string;
  updatedAt: string;
}

/**
 * How {@link Store.search} ranks: by vector similarity, by full-text relevance (BM25), or by both
 * fused (see {@link SearchQuery.mode}).
 */
export type SearchMode = 'vector' | 'text' | 'hybrid';

/** A ranking signal that found a chunk. */
export type SearchSignal = 'vector' | 'text';

/** One chunk found by a search. */
export interface SearchHit {
  documentId: string;
  /** `${documentId}:${version}:${index}`; changes when the document is replaced. */
  chunkId: string;
  /** Document version the chunk belongs to. */
  version: number;
  /**
   * Higher is better. `vector` mode: cosine similarity in [-1, 1]. `text` mode: the BM25 score
   * (unbounded, comparable within one query only). `hybrid` mode: the fused score in [0, 1].
   */
  score: number;
  /**
   * The signals whose candidate lists held the chunk: `text` means it shares terms with the query
   * (after stemming and stop-word removal), `vector` that it is among the nearest vectors.
   */
  matched: SearchSignal[];
  /** Each signal's own score for the chunk, where it had one: cosine similarity and BM25. */
  scores: Partial<Record<SearchSignal, number>>;
  text: string;
  headingPath: string[];
  /** Character offsets of the chunk in the document's extracted text, `end` exclusive. */
  start: number;
  end: number;
  /** 1-based page, for paged formats (PDF). */
  page?: number;
  /** The document's metadata. */
  metadata: Metadata;
  collection: string;
}

/** Metadata conditions, all of which must hold: a value means equality, an array means "one of". */
export type MetadataFilter = Record<string, MetadataValue | MetadataValue[]>;

/** Arguments of {@link Store.search}. */
export interface SearchQuery {
  /**
   * `vector` needs `vector` and `model`, `text` needs `text`, `hybrid` needs all three. Default:
   * `hybrid` when both a vector and a text are given, else whichever one is.
   */
  mode?: SearchMode;
  vector?: Float32Array;
  /** Model that embedded `vector`; must be the model of the searched collection(s). */
  model?: string;
  /** The query as words, for full-text (BM25) ranking. */
  text?: string;
  topK: number;
  /** Search one collection; all of the tenant's collections otherwise. */
  collection?: string;
  filter?: MetadataFilter;
}

/** Arguments of {@link Store.listDocuments}. */
export interface ListDocumentsOptions {
  collection?: string;
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** One page of documents ordered by (collection, documentId). */
export interface DocumentPage {
  documents: DocumentRecord[];
  /** Present when more documents may follow. */
  nextCursor?: string;
}

/** One chunk of a document's current version, as {@link Store.listChunks} returns it. */
export interface ChunkRecord {
  /** `${documentId}:${version}:${index}`, as search hits name it. */
  chunkId: string;
  /** 0-based position in the document. */
  index: number;
  text: string;
  /** Headings from the document root down to this chunk's section. */
  headingPath: string[];
  /** Character offsets of the chunk in the document's extracted text, `end` exclusive. */
  start: number;
  end: number;
  /** 1-based page, for paged formats (PDF). */
  page?: number;
}

/** Arguments of {@link Store.listChunks}. */
export interface ListChunksOptions {
  limit: number;
  /** `nextCursor` of the previous page (of the same document version). */
  cursor?: string;
}

/** One page of a document's chunks, in document order. */
export interface ChunkPage {
  /** The document's record: the version the chunks belong to, and how many it has. */
  document: DocumentRecord;
  chunks: ChunkRecord[];
  /** Present when more chunks follow. */
  nextCursor?: string;
}
