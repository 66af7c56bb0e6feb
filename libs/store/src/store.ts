import { Index, Session, connect } from '@lancedb/lancedb';
import type { Connection, Table } from '@lancedb/lancedb';
import type { Table as ArrowTable } from 'apache-arrow';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { metadataEntries, metadataFilterSql } from './metadata.ts';
import { DOCUMENT_COLUMNS, HIT_COLUMNS, documentFromRow, documentToRow, hitFromRow } from './rows.ts';
import { fuseHits } from './fusion.ts';
import {
  ADDED_CHUNK_COLUMNS,
  CHUNKS_TABLE,
  DOCUMENTS_TABLE,
  TEXT_INDEX_COLUMN,
  chunksSchema,
  documentsSchema,
  vectorDimension,
} from './schema.ts';
import { scopeWhere, sqlAnd, sqlEquals, sqlString } from './sql.ts';
import { StoreError, guard } from './store-error.ts';
import { Semaphore } from './semaphore.ts';
import { TableHandles } from './tables.ts';
import { requireId, validateVector, validateWrite } from './validate.ts';
import type {
  ChunkInput,
  DocumentInput,
  DocumentPage,
  DocumentRecord,
  ListDocumentsOptions,
  SearchHit,
  SearchMode,
  SearchQuery,
} from './types.ts';

/**
 * Candidates each signal contributes to a hybrid search (at least; twice `topK` when that is
 * more). Deep enough that a chunk ranked fairly by both signals is in both lists; the fusion
 * constants were chosen at this depth.
 */
const HYBRID_CANDIDATES = 50;
const DEFAULT_OPTIMIZE_EVERY_WRITES = 100;
const DEFAULT_VERSION_RETENTION_SECONDS = 300;
const DEFAULT_MAX_CONCURRENT_SEARCHES = 4;
const DEFAULT_INDEX_CACHE_BYTES = 256 * 1024 * 1024;
/**
 * Small on purpose: the memory this cache really holds is well above what LanceDB counts for it,
 * and keeps growing after the count has reached its bound (heap profiles put that growth in cached
 * file and index metadata). Under constant ingests (`npm run soak`) the worker's RSS outside the
 * counted caches grew 1.9 MB/min at 64 MB and 0.6 at 16 MB, and sat ~95 MB lower; searches were
 * no slower.
 */
const DEFAULT_METADATA_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Below this many chunks a vector search scans every vector; from here on the writer builds an
 * IVF index. LanceDB's flat scan of 384-dimensional vectors costs about 1.5 ms per 1,000 rows on
 * this project's 2-core reference machine, so 20,000 rows is where a search would pass ~30 ms.
 */
const DEFAULT_VECTOR_INDEX_MIN_ROWS = 20_000;
/**
 * IVF_FLAT: rows are clustered into partitions, a query scans the nearest `VECTOR_INDEX_PROBES`
 * of them with exact distances. Chosen over IVF_PQ and IVF_HNSW_SQ on a 100k-chunk SciFact corpus
 * (builtin embedder): it builds in ~9 s instead of 100-170 s, is updated cheaply by `optimize`,
 * and keeps exact distances, so recall depends on the probes only. 80 of 128 partitions gave
 * recall@10 0.88 against the exact scan at ~11 ms (the scan: ~150-250 ms). Lexical vectors
 * cluster poorly; a neural embedding model's vectors reach higher recall with the same probes.
 */
const VECTOR_INDEX_PARTITIONS = 128;
const VECTOR_INDEX_PROBES = 80;
const VECTOR_INDEX_NAME = 'vector_idx';
/** Low-cardinality columns in every search's prefilter: bitmap indexes make the filter a lookup. */
const SCOPE_INDEX_COLUMNS = ['tenant', 'collection', 'model'] as const;

/** Where the store lives and how fresh its reads are. */
export interface StoreOptions {
  /** A local directory, or an object store URI such as `s3://bucket/prefix`. */
  uri: string;
  /**
   * Seconds between checks for commits made by other processes (LanceDB's
   * `readConsistencyInterval`). Default 0: every read sees the latest commit, which gateways need
   * because the worker process writes. Without it a reader never sees new rows.
   */
  readConsistencyIntervalSeconds?: number;
  /** Object store settings (region, endpoint, credentials) passed to LanceDB as-is. */
  storageOptions?: Record<string, string>;
  /**
   * Writer side only (the store that writes runs maintenance; readers never do): compact the
   * chunks table and fold new rows into the full-text index after this many writes. Default 100.
   * Rows not yet in the index are still searched (by a slower scan), so this bounds that cost and
   * the table's fragmentation, not correctness.
   */
  optimizeEveryWrites?: number;
  /**
   * Writer side only: at compaction time, table versions older than this are removed with the files
   * only they use. Default 300. LanceDB keeps them 7 days by default, so with one commit per write
   * a busy store piles up tens of thousands of manifests and data files. A reader holds a version
   * for one query at a time (or for `readConsistencyIntervalSeconds`, when that is set), so
   * retention must stay well above both.
   */
  versionRetentionSeconds?: number;
  /**
   * Writer side only: build the vector index once the chunks table holds this many rows (checked
   * at compaction time). Default 20,000.
   */
  vectorIndexMinRows?: number;
  /**
   * Searches the engine runs at once; more wait their turn. Default 4: LanceDB already spreads a
   * query over every core, so more in parallel only adds memory (each holds its scan buffers).
   */
  maxConcurrentSearches?: number;
  /**
   * Bytes LanceDB may keep of index data and of file metadata in memory. Its own defaults are 6 GB
   * and 1 GB per process, far past a gateway pod's memory limit. Defaults here: 256 MB and 16 MB,
   * which hold a 100k-chunk vector index (384 dimensions, ~150 MB) with room to spare. Under
   * steady writes they do fill up: every commit adds data files and manifests whose metadata is
   * cached until evicted.
   */
  indexCacheBytes?: number;
  metadataCacheBytes?: number;
  /**
   * Called when writer-side maintenance fails (building the full-text index, compaction). The
   * write itself has succeeded; maintenance is retried after later writes. Default: ignored.
   */
  onMaintenanceError?: (
    error: unknown,
    operation: 'text index' | 'vector index' | 'optimize' | 'migrate',
  ) => void;
}

/**
 * Documents, chunks and vectors of all tenants. Every call is scoped by tenant. One process writes
 * (the worker); any number read. Within one Store, writes are serialized.
 */
export interface Store {
  /**
   * Writes a new version of a document (previous version + 1, or 1) with its chunks and returns
   * the stored record. The new chunks replace the old ones in one commit, so a concurrent search
   * sees either version, never a mix and never nothing. Retrying after a crash is safe: chunk ids
   * are deterministic and the document row is written last.
   *
   * @throws StoreError `invalid_input` for an empty chunk list (a document without chunks is an
   *   ingest failure upstream, and storing it would make the document unsearchable silently), bad
   *   metadata or offsets; `dimension_mismatch` when the vectors' length differs from the store's;
   *   `model_mismatch` when another document of the collection uses another embedding model.
   */
  replaceDocument(doc: DocumentInput, chunks: ChunkInput[]): Promise<DocumentRecord>;
  getDocument(tenant: string, collection: string, documentId: string): Promise<DocumentRecord | undefined>;
  /** Documents ordered by (collection, documentId), one page at a time. */
  listDocuments(tenant: string, options: ListDocumentsOptions): Promise<DocumentPage>;
  /** Deletes the document's chunks, then its record. False when there was nothing to delete. */
  deleteDocument(tenant: string, collection: string, documentId: string): Promise<boolean>;
  /**
   * The `topK` best chunks for the query, best first:
   * - `vector`: nearest to `query.vector` by cosine similarity;
   * - `text`: most relevant to `query.text` by BM25 over the chunks' full-text index;
   * - `hybrid`: both signals' candidates fused (see {@link fuseHits}).
   * The metadata filter (and scope) is applied inside each query, before ranking, so `topK`
   * counts matching chunks only. Each hit says which signals found it.
   *
   * @throws StoreError `model_mismatch` when the searched chunks were embedded with another model,
   *   `dimension_mismatch` when the vector length differs from the store's, `invalid_filter`,
   *   `invalid_input` for a query missing what its mode needs, `not_ready` for a text search on a
   *   store whose full-text index the writer has not built yet.
   */
  search(tenant: string, query: SearchQuery): Promise<SearchHit[]>;
  /** Cheap reachability check for readiness probes. */
  ping(): Promise<void>;
  /**
   * What LanceDB's index and metadata caches hold right now; bounded by `indexCacheBytes` +
   * `metadataCacheBytes`.
   */
  cacheUsage(): CacheUsage;
  /** Waits for writes in flight, then releases the store; safe to call more than once. */
  close(): Promise<void>;
}

/** Memory held by the store's caches. */
export interface CacheUsage {
  bytes: number;
  entries: number;
}

/** Opens (without creating anything) the store at `options.uri`. Tables appear on first write. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const session = new Session(
    BigInt(options.indexCacheBytes ?? DEFAULT_INDEX_CACHE_BYTES),
    BigInt(options.metadataCacheBytes ?? DEFAULT_METADATA_CACHE_BYTES),
  );
  // The session goes in the options object: @lancedb/lancedb 0.39 declares a
  // `connect(uri, options, session)` overload but drops that third argument, and the connection
  // then runs on a default session (6 GB + 1 GB of cache) that grows with every commit it reads.
  const db = await guard('open', () =>
    connect({
      uri: options.uri,
      readConsistencyInterval: options.readConsistencyIntervalSeconds ?? 0,
      ...(options.storageOptions ? { storageOptions: options.storageOptions } : {}),
      session,
    }),
  );
  return new LanceStore(db, session, options);
}

/** The mode a query asks for, explicitly or by what it carries. */
function searchMode(query: SearchQuery): SearchMode {
  if (query.mode !== undefined) return query.mode;
  if (query.vector !== undefined && query.text !== undefined) return 'hybrid';
  return query.vector !== undefined ? 'vector' : 'text';
}

/**
 * BM25 over words: lower-cased, ASCII-folded, English-stemmed, stop words removed. No positions:
 * Hopper runs no phrase queries, and positions would double the index.
 */
function textIndexConfig(): Index {
  return Index.fts({
    withPosition: false,
    baseTokenizer: 'simple',
    language: 'English',
    lowercase: true,
    stem: true,
    removeStopWords: true,
    asciiFolding: true,
  });
}

/** A write that failed without changing what readers see. */
function previousVersionKept(documentId: string, cause: unknown): StoreError {
  return new StoreError(
    'unavailable',
    `Document store write failed; the previous version of "${documentId}" is unchanged`,
    { cause },
  );
}

function firstModel(rows: unknown[]): string | undefined {
  const row = rows[0];
  if (typeof row !== 'object' || row === null) return undefined;
  const model = (row as Record<string, unknown>)['model'];
  return typeof model === 'string' ? model : undefined;
}

class LanceStore implements Store {
  readonly #db: Connection;
  readonly #session: Session;
  readonly #tables: TableHandles;
  readonly #optimizeEvery: number;
  readonly #versionRetentionMs: number;
  readonly #vectorIndexMinRows: number;
  readonly #searches: Semaphore;
  readonly #onMaintenanceError: NonNullable<StoreOptions['onMaintenanceError']>;
  /** Writer: the chunks table has every current column. */
  #migrated = false;
  /** Both sides: the chunks table has its full-text index (once seen, it stays). */
  #textIndexed = false;
  #writesSinceOptimize = 0;
  #hasPageColumn = false;
  /** Vector length of the chunks table; fixed by the first write, so cached once known. */
  #dimension: number | undefined;
  #writes: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  constructor(db: Connection, session: Session, options: StoreOptions) {
    this.#db = db;
    this.#session = session;
    this.#tables = new TableHandles(db);
    this.#optimizeEvery = options.optimizeEveryWrites ?? DEFAULT_OPTIMIZE_EVERY_WRITES;
    this.#versionRetentionMs = (options.versionRetentionSeconds ?? DEFAULT_VERSION_RETENTION_SECONDS) * 1000;
    this.#vectorIndexMinRows = options.vectorIndexMinRows ?? DEFAULT_VECTOR_INDEX_MIN_ROWS;
    this.#searches = new Semaphore(options.maxConcurrentSearches ?? DEFAULT_MAX_CONCURRENT_SEARCHES);
    this.#onMaintenanceError = options.onMaintenanceError ?? (() => undefined);
  }

  async replaceDocument(doc: DocumentInput, chunks: ChunkInput[]): Promise<DocumentRecord> {
    this.#assertOpen();
    const dimension = validateWrite(doc, chunks);
    return this.#serialize(() =>
      guard('write', async () => {
        const chunkTable = await this.#tables.getOrCreate(CHUNKS_TABLE, chunksSchema(dimension));
        const stored = await this.#tableDimension(chunkTable);
        if (stored !== dimension) {
          throw new StoreError(
            'dimension_mismatch',
            `Document "${doc.documentId}" has ${dimension}-dimensional vectors but this store holds ` +
              `${stored}-dimensional vectors (model "${doc.model}")`,
          );
        }
        await this.#checkWriteModel(chunkTable, doc);
        await this.#migrate(chunkTable);

        // The record is written after the chunks: after a crash in between, the retry computes
        // the same version and the same chunk ids, and the merge below overwrites them.
        const previous = await this.#readDocument(doc.tenant, doc.collection, doc.documentId);
        const version = (previous?.version ?? 0) + 1;
        const metadata = JSON.stringify(doc.metadata);
        const metaKv = metadataEntries(doc.metadata);
        const rows = chunks.map((chunk, index) => ({
          tenant: doc.tenant,
          collection: doc.collection,
          document_id: doc.documentId,
          chunk_id: `${doc.documentId}:${version}:${index}`,
          version,
          chunk_index: index,
          text: chunk.text,
          heading_path: chunk.headingPath,
          start_offset: chunk.start,
          end_offset: chunk.end,
          model: doc.model,
          metadata,
          meta_kv: metaKv,
          vector: chunk.vector,
          page: chunk.page ?? null,
          search_text: chunk.searchText ?? chunk.text,
        }));
        // One commit inserts the new version and deletes every other chunk of this document:
        // readers see the old set or the new set, never both and never none.
        const chunksBefore = await chunkTable.version();
        try {
          await chunkTable
            .mergeInsert(['tenant', 'collection', 'chunk_id'])
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .whenNotMatchedBySourceDelete({ where: scopeWhere(doc.tenant, doc.collection, doc.documentId) })
            .execute(rows);
        } catch (error) {
          throw previousVersionKept(doc.documentId, error);
        }

        const now = new Date().toISOString();
        const record: DocumentRecord = {
          tenant: doc.tenant,
          collection: doc.collection,
          documentId: doc.documentId,
          title: doc.title,
          mediaType: doc.mediaType,
          contentHash: doc.contentHash,
          metadata: { ...doc.metadata },
          model: doc.model,
          version,
          chunks: chunks.length,
          createdAt: previous?.createdAt ?? now,
          updatedAt: now,
        };
        try {
          const documents = await this.#tables.getOrCreate(DOCUMENTS_TABLE, documentsSchema());
          await documents
            .mergeInsert(['tenant', 'collection', 'document_id'])
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute([documentToRow(record)]);
        } catch (error) {
          // The new chunks are committed but the record still names the previous version: searches
          // would return chunks of a version that never was. Put the previous chunks back.
          throw await this.#undoChunkWrite(chunkTable, chunksBefore, doc, error);
        }
        await this.#maintain(chunkTable);
        return record;
      }),
    );
  }

  async getDocument(
    tenant: string,
    collection: string,
    documentId: string,
  ): Promise<DocumentRecord | undefined> {
    this.#assertOpen();
    return guard('read', () => this.#readDocument(tenant, collection, documentId));
  }

  async listDocuments(tenant: string, options: ListDocumentsOptions): Promise<DocumentPage> {
    this.#assertOpen();
    const { limit, collection } = options;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new StoreError('invalid_input', 'limit must be a positive integer');
    }
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    return guard('list', async () => {
      const table = await this.#tables.get(DOCUMENTS_TABLE);
      if (!table) return { documents: [] };
      const where = sqlAnd(
        scopeWhere(tenant, collection),
        after &&
          `collection > ${sqlString(after.collection)} OR ` +
            `(${sqlEquals('collection', after.collection)} AND document_id > ${sqlString(after.documentId)})`,
      );
      // One extra row tells whether another page follows without a count query.
      const rows: unknown[] = await table
        .query()
        .where(where)
        .orderBy([{ columnName: 'collection' }, { columnName: 'document_id' }])
        .limit(limit + 1)
        .select(DOCUMENT_COLUMNS)
        .toArray();
      const documents = rows.slice(0, limit).map(documentFromRow);
      const last = documents.at(-1);
      return rows.length > limit && last ? { documents, nextCursor: encodeCursor(last) } : { documents };
    });
  }

  async deleteDocument(tenant: string, collection: string, documentId: string): Promise<boolean> {
    this.#assertOpen();
    return this.#serialize(() =>
      guard('delete', async () => {
        const where = scopeWhere(tenant, collection, documentId);
        let deleted = 0;
        // Chunks first: a crash in between leaves a record without chunks, which a retried
        // delete removes, rather than searchable chunks of a document nobody can see.
        const chunks = await this.#tables.get(CHUNKS_TABLE);
        if (chunks) deleted += (await chunks.delete(where)).numDeletedRows;
        const documents = await this.#tables.get(DOCUMENTS_TABLE);
        if (documents) deleted += (await documents.delete(where)).numDeletedRows;
        if (chunks && deleted > 0) await this.#maintain(chunks);
        return deleted > 0;
      }),
    );
  }

  async search(tenant: string, query: SearchQuery): Promise<SearchHit[]> {
    this.#assertOpen();
    const mode = searchMode(query);
    const useVector = mode !== 'text';
    const useText = mode !== 'vector';
    if (useVector) {
      requireId('model', query.model ?? '');
      validateVector(query.vector, 'query vector');
    }
    if (useText && (typeof query.text !== 'string' || query.text.trim() === '')) {
      throw new StoreError('invalid_input', `A ${mode} search needs the query text`);
    }
    if (!Number.isInteger(query.topK) || query.topK < 1) {
      throw new StoreError('invalid_input', 'topK must be a positive integer');
    }
    const filter = query.filter === undefined ? undefined : metadataFilterSql(query.filter);
    return this.#searches.run(() => this.#search(tenant, query, mode, filter));
  }

  #search(
    tenant: string,
    query: SearchQuery,
    mode: SearchMode,
    filter: string | undefined,
  ): Promise<SearchHit[]> {
    const useVector = mode !== 'text';
    const useText = mode !== 'vector';
    return guard('search', async () => {
      const table = await this.#tables.get(CHUNKS_TABLE);
      if (!table) return [];
      const scope = scopeWhere(tenant, query.collection);
      const vector = useVector ? (query.vector as Float32Array) : undefined;
      const model = query.model ?? '';
      if (vector !== undefined) {
        const stored = await this.#tableDimension(table);
        if (vector.length !== stored) {
          // A model mismatch explains a dimension mismatch better than the lengths do.
          await this.#checkSearchModel(table, scope, model, query.collection);
          throw new StoreError(
            'dimension_mismatch',
            `The query vector has ${vector.length} dimensions but stored vectors have ${stored}`,
          );
        }
      }
      const depth = mode === 'hybrid' ? Math.max(HYBRID_CANDIDATES, query.topK * 2) : query.topK;
      // Hybrid keeps both lists to the query model's chunks, so the fused list never mixes in
      // chunks the vector side could not have seen. A text-only search needs no model.
      const where = sqlAnd(scope, useVector ? sqlEquals('model', model) : undefined, filter);
      const indexed = useText && (await this.#hasTextIndex(table));
      const columns = await this.#hitColumns(table);
      if (mode === 'text' && !indexed) {
        throw new StoreError(
          'not_ready',
          'Full-text search is not available yet: the full-text index is built by the worker with the ' +
            'next ingest. Use mode "vector" until then.',
        );
      }
      // `where` before a search is a prefilter in LanceDB: `limit` counts matching rows only.
      // A query with no terms (only stop words, for a lexical embedder) embeds to the zero vector,
      // which is no nearer to anything: cosine similarity is undefined, so there is no vector hit.
      const vectorUsable = vector !== undefined && vector.some((x) => x !== 0);
      const [vectorRows, textRows] = await Promise.all([
        vector === undefined || !vectorUsable
          ? []
          : table
              .vectorSearch(vector)
              .column('vector')
              .distanceType('cosine')
              // Ignored while the table has no vector index (an exact scan).
              .nprobes(VECTOR_INDEX_PROBES)
              .where(where)
              .limit(depth)
              .select([...columns, '_distance'])
              .toArray(),
        !indexed
          ? []
          : table
              .query()
              .fullTextSearch(query.text ?? '', { columns: TEXT_INDEX_COLUMN })
              .where(where)
              .limit(depth)
              .select([...columns, '_score'])
              .toArray(),
      ]);
      // Only an empty result can hide a model mismatch, so the happy path pays no extra query.
      if (vectorUsable && vectorRows.length === 0) {
        await this.#checkSearchModel(table, scope, model, query.collection);
      }
      const vectorHits = (vectorRows as unknown[]).map((row) => hitFromRow(row, 'vector'));
      const textHits = (textRows as unknown[]).map((row) => hitFromRow(row, 'text'));
      if (mode === 'vector') return vectorHits;
      if (mode === 'text') return textHits;
      return fuseHits(textHits, vectorHits, query.topK);
    });
  }

  async ping(): Promise<void> {
    this.#assertOpen();
    await guard('ping', () => this.#db.tableNames());
  }

  cacheUsage(): CacheUsage {
    return { bytes: Number(this.#session.sizeBytes()), entries: this.#session.approxNumItems() };
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await this.#writes;
    // Run every cleanup even when one throws, then report the failures together.
    const failures: unknown[] = [];
    for (const cleanup of [() => this.#tables.close(), () => this.#db.close()]) {
      try {
        cleanup();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) {
      throw new StoreError('unavailable', 'Closing the document store failed', {
        cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
      });
    }
  }

  #assertOpen(): void {
    if (this.#closing) throw new StoreError('unavailable', 'The document store is closed');
  }

  /** Runs writes one after another; a failed write does not block the next. */
  #serialize<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#writes.then(run);
    this.#writes = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #readDocument(
    tenant: string,
    collection: string,
    documentId: string,
  ): Promise<DocumentRecord | undefined> {
    const table = await this.#tables.get(DOCUMENTS_TABLE);
    if (!table) return undefined;
    const rows: unknown[] = await table
      .query()
      .where(scopeWhere(tenant, collection, documentId))
      .select(DOCUMENT_COLUMNS)
      .limit(1)
      .toArray();
    return rows.length > 0 ? documentFromRow(rows[0]) : undefined;
  }

  /**
   * Puts one document's chunks back as they were at `version` of the chunks table, in a new commit
   * that touches that document's rows only: other workers may have committed other documents since,
   * so restoring the whole table to `version` would throw their writes away. Returns the error for
   * the failed write.
   */
  async #undoChunkWrite(
    table: Table,
    version: number,
    doc: DocumentInput,
    cause: unknown,
  ): Promise<StoreError> {
    const where = scopeWhere(doc.tenant, doc.collection, doc.documentId);
    try {
      const previous = await this.#chunksAt(version, where);
      if (previous.numRows === 0) {
        await table.delete(where);
      } else {
        await table
          .mergeInsert(['tenant', 'collection', 'chunk_id'])
          .whenMatchedUpdateAll()
          .whenNotMatchedInsertAll()
          .whenNotMatchedBySourceDelete({ where })
          .execute(previous);
      }
    } catch (undoError) {
      return new StoreError(
        'unavailable',
        `Document store write failed, and the unfinished version of "${doc.documentId}" could not be ` +
          'removed: searches may return its chunks until the document is written again',
        { cause: new AggregateError([cause, undoError]) },
      );
    }
    return previousVersionKept(doc.documentId, cause);
  }

  /** The rows matching `where` as they were at `version` of the chunks table (time travel). */
  async #chunksAt(version: number, where: string): Promise<ArrowTable> {
    // A handle of its own: checking out an old version on the shared one would pin it there.
    const table = await this.#db.openTable(CHUNKS_TABLE);
    try {
      await table.checkout(version);
      return await table.query().where(where).toArrow();
    } finally {
      table.close();
    }
  }

  async #tableDimension(table: Table): Promise<number> {
    if (this.#dimension !== undefined) return this.#dimension;
    const dimension = vectorDimension(await table.schema());
    if (dimension === undefined) throw new StoreError('unavailable', 'The chunks table has no vector column');
    this.#dimension = dimension;
    return dimension;
  }

  /**
   * Refuses a second embedding model in a collection. The document being replaced is excluded so
   * a collection's only document can be re-embedded with a new model.
   */
  async #checkWriteModel(table: Table, doc: DocumentInput): Promise<void> {
    const rows: unknown[] = await table
      .query()
      .where(
        sqlAnd(
          scopeWhere(doc.tenant, doc.collection),
          `model <> ${sqlString(doc.model)}`,
          `document_id <> ${sqlString(doc.documentId)}`,
        ),
      )
      .select(['model'])
      .limit(1)
      .toArray();
    const other = firstModel(rows);
    if (other !== undefined) {
      throw new StoreError(
        'model_mismatch',
        `Collection "${doc.collection}" holds vectors from embedding model "${other}"; document ` +
          `"${doc.documentId}" was embedded with "${doc.model}". Use one model per collection: ` +
          `re-embed with "${other}" or write to another collection.`,
      );
    }
  }

  /** Throws model_mismatch when the scope has chunks, none of them from the query's model. */
  async #checkSearchModel(table: Table, scope: string, model: string, collection?: string): Promise<void> {
    const probe = async (predicate: string): Promise<unknown[]> =>
      table.query().where(sqlAnd(scope, predicate)).select(['model']).limit(1).toArray();
    if ((await probe(sqlEquals('model', model))).length > 0) return;
    const other = firstModel(await probe(`model <> ${sqlString(model)}`));
    if (other === undefined) return;
    const where =
      collection === undefined ? "This tenant's documents were" : `Collection "${collection}" was`;
    throw new StoreError(
      'model_mismatch',
      `${where} embedded with model "${other}" but the query vector comes from "${model}"`,
    );
  }

  /**
   * The hit columns the chunks table has: a table written before `page` existed (and not yet
   * migrated by its writer) is read without it.
   */
  async #hitColumns(table: Table): Promise<readonly string[]> {
    if (this.#hasPageColumn) return HIT_COLUMNS;
    const names = new Set((await table.schema()).fields.map((field) => field.name));
    this.#hasPageColumn = names.has('page');
    return HIT_COLUMNS.filter((name) => names.has(name));
  }

  /** Whether the chunks table has its full-text index; checked until it has, then remembered. */
  async #hasTextIndex(table: Table): Promise<boolean> {
    if (this.#textIndexed) return true;
    const indices = await table.listIndices();
    this.#textIndexed = indices.some((index) => index.columns.includes(TEXT_INDEX_COLUMN));
    return this.#textIndexed;
  }

  /**
   * Writer only: adds the columns a chunks table written by an older Hopper lacks, filling them
   * for the rows already there, before the first write that needs them.
   */
  async #migrate(table: Table): Promise<void> {
    if (this.#migrated) return;
    const present = new Set((await table.schema()).fields.map((field) => field.name));
    const missing = ADDED_CHUNK_COLUMNS.filter((column) => !present.has(column.name));
    if (missing.length > 0) await table.addColumns([...missing]);
    this.#migrated = true;
  }

  /**
   * Writer only, at compaction time: bitmap indexes for the scope columns, and the vector index
   * once the table is large enough for a scan to hurt. Built once; `optimize` folds later rows
   * into it, in partitions trained on the rows present at the build.
   */
  async #maintainSearchIndexes(table: Table): Promise<void> {
    const present = new Set((await table.listIndices()).map((index) => index.name));
    for (const column of SCOPE_INDEX_COLUMNS) {
      if (!present.has(`${column}_idx`)) await table.createIndex(column, { config: Index.bitmap() });
    }
    const rows = await table.countRows();
    if (rows < this.#vectorIndexMinRows) return;
    if (present.has(VECTOR_INDEX_NAME)) return;
    // k-means wants a few hundred rows per partition to place its centroids well.
    const partitions = Math.max(1, Math.min(VECTOR_INDEX_PARTITIONS, Math.floor(rows / 256)));
    await table.createIndex('vector', {
      config: Index.ivfFlat({ distanceType: 'cosine', numPartitions: partitions }),
      name: VECTOR_INDEX_NAME,
    });
  }

  /**
   * Writer only, after a write: builds the full-text index if the table has none (a new store, or
   * one written before it existed), and every `optimizeEveryWrites` writes compacts the table and
   * folds new rows into the indexes. Failures are reported, never thrown: the write has succeeded,
   * rows outside the index are still searched, and the next write tries again.
   */
  async #maintain(table: Table): Promise<void> {
    if (!(await this.#hasTextIndex(table).catch(() => false))) {
      try {
        await table.createIndex(TEXT_INDEX_COLUMN, { config: textIndexConfig() });
        this.#textIndexed = true;
      } catch (error) {
        this.#onMaintenanceError(error, 'text index');
      }
    }
    this.#writesSinceOptimize++;
    if (this.#writesSinceOptimize < this.#optimizeEvery) return;
    this.#writesSinceOptimize = 0;
    // Both tables take one small commit per write; left alone, their fragments pile up and every
    // read and merge gets slower with the number of writes, not the amount of data. The versions
    // those commits made are dropped once no reader can still be on them.
    const documents = await this.#tables.get(DOCUMENTS_TABLE).catch(() => undefined);
    const cleanupOlderThan = new Date(Date.now() - this.#versionRetentionMs);
    for (const target of documents ? [table, documents] : [table]) {
      try {
        await target.optimize({ cleanupOlderThan });
      } catch (error) {
        this.#onMaintenanceError(error, 'optimize');
      }
    }
    try {
      await this.#maintainSearchIndexes(table);
    } catch (error) {
      this.#onMaintenanceError(error, 'vector index');
    }
  }
}
