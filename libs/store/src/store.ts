import { randomUUID } from 'node:crypto';
import { Session, connect } from '@lancedb/lancedb';
import type { Connection, Table } from '@lancedb/lancedb';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { metadataFilterSql } from './metadata.ts';
import { DOCUMENT_COLUMNS, HIT_COLUMNS, documentFromRow, hitFromRow, recordsByKey } from './rows.ts';
import { fuseHits, mergeTableHits } from './fusion.ts';
import { documentKey } from './keys.ts';
import {
  CHUNK_TABLES,
  CHUNKS_TABLE,
  DOCUMENTS_TABLE,
  DOCUMENT_KEY_COLUMN,
  TEXT_INDEX_COLUMN,
  tableDimension,
} from './schema.ts';
import { scopeWhere, sqlAnd, sqlEquals, sqlString } from './sql.ts';
import { StoreError, guard } from './store-error.ts';
import type { DocumentLocks } from './group-commit.ts';
import type { CommitClock } from './commit-clock.ts';
import { encodeChange } from './change-notes.ts';
import {
  Maintenance,
  TEXT_INDEX_NAME,
  VECTOR_INDEX_PROBES,
  type MaintenanceOperation,
  type MaintenanceStats,
} from './maintenance.ts';
import { DocumentWriter, firstModel, type CommitStats } from './writer.ts';
import { Semaphore } from './semaphore.ts';
import { MirrorThread, type MirrorThreadOptions } from './mirror-thread.ts';
import type { Freshness, TableVersions } from './search-mirror.ts';
import type { IndexQuery } from './memory-index.ts';
import { TableHandles } from './tables.ts';
import { requireId, validateVector, validateWrite } from './validate.ts';
import { listChunks } from './chunk-list.ts';
import { pageFromListing, scanDocuments, type DocumentListing } from './listing.ts';
import { readRecords, type DocumentRecordCopies } from './record-copies.ts';
import type {
  ChunkInput,
  ChunkPage,
  DocumentInput,
  DocumentPage,
  DocumentRecord,
  ListChunksOptions,
  ListDocumentsOptions,
  SearchHit,
  SearchMode,
  SearchQuery,
  ListedDocument,
} from './types.ts';

/**
 * Candidates each signal contributes to a hybrid search (at least; twice `topK` when that is
 * more). Deep enough that a chunk ranked fairly by both signals is in both lists; the fusion
 * constants were chosen at this depth.
 */
const HYBRID_CANDIDATES = 50;
/**
 * The most rows outside the delta's full-text index that a hybrid search scores by a scan. LanceDB
 * reads and tokenises each such row per query (~40 µs: with 890 of them a hybrid search cost 68 ms
 * of CPU instead of 32; SciFact, 9,285 delta rows, store level). Past this, a hybrid search with a
 * usable vector skips them on its text side: its vector side still finds them, so until their
 * fold (at most 1,000 rows or 5 s later) they rank by it alone. A smaller tail, such as a few
 * documents just written, is scanned, and a text-only search scans the whole tail.
 */
const DEFAULT_HYBRID_TEXT_TAIL_SCAN_ROWS = 200;
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
 * Below this many chunks a vector search scans the table's vectors; from here on the writer builds
 * an IVF index. Up to 80 partitions (20,480 rows) a search probes every partition, so its results
 * are exact, and it still costs a third of the scan: LanceDB reads the index's own copy of the
 * vectors faster than the table's column. Measured at 8,721 SciFact chunks (384 dimensions, the
 * store's filter and columns): 14.5 ms for the scan, 5.0 ms through the index (recall@10 1.0). At
 * 2,500 rows the index saved ~1.5 ms; at 1,000 it was no faster, so smaller tables are scanned.
 */
const DEFAULT_VECTOR_INDEX_MIN_ROWS = 2_000;
/**
 * A delete waits this long at most for a document's write lock: longer than the slowest group
 * commit, and than the lock's own expiry (30 s) after a writer died holding it.
 */
const DELETE_LOCK_WAIT_MS = 45_000;
const DELETE_LOCK_RETRY_MS = 20;
/** Suspects one `pruneListing` checks (their locks taken together, their records read in one query). */
const PRUNE_BATCH = 500;
/** Documents whose copies one step of `syncRecordCopies` publishes (their locks taken together). */
const COPY_BATCH = 500;
/**
 * Segments the vector index may have before it is rebuilt as one: each costs a search ~4 ms (153
 * segments: 612 ms at 100k chunks), and a rebuild costs ~10-16 s of writer time at 100k chunks,
 * plus the compaction it allows (every fragment rewritten once, ~12 s).
 */
const DEFAULT_MAX_VECTOR_INDEX_SEGMENTS = 8;
/**
 * Bounds on the rows a search scans outside the full-text index. LanceDB scans unindexed rows with
 * every full-text query: over 20k indexed rows, a tail of 500 rows (in 10 commits) took a query
 * from 11 to 19 ms, 1,000 to 76 ms and 2,000 to 241 ms. Folding the tail in (`optimize`) costs
 * ~0.1-0.2 s up to 20k rows but 0.5-3 s at 100k, and commits wait meanwhile, so the bounds are not
 * lower still. Five seconds keeps a quiet store's tail short without optimising after every lone
 * document.
 */
const DEFAULT_MAX_UNINDEXED_ROWS = 1_000;
const DEFAULT_MAX_UNINDEXED_SECONDS = 5;
/**
 * Each commit adds a data fragment to each table, and every read and keyed upsert opens each
 * fragment: with 16 writers, 64 allowed fragments gave 105 documents/s and 16 gave 161, searches
 * 50 ms against 23 ms.
 */
const DEFAULT_MAX_FRAGMENTS = 16;
const MAINTENANCE_CHECK_INTERVAL_MS = 250;
/**
 * Rows the delta table holds before they move into the main table. A search scans the delta's
 * vectors written since its last fold (from 2,000 rows, its vector index holds the others), and each move costs
 * one fold of the main table (its full-text index rewritten: ~2-7 s at 100k chunks).
 */
const DEFAULT_MAX_DELTA_ROWS = 5_000;
/**
 * No commit for this long and the delta moves into the main table whatever its size. Long enough
 * that documents sent one every few seconds do not fold the main table each time (a fold rewrites
 * its full-text index: seconds at 100k chunks); short enough that a store at rest soon reads one
 * table: with 5k chunks in the main table and 500 or 2,000 documents waiting in the delta, a hybrid
 * search at rest took p50 21 and 16 ms, and 13.5 and 14 ms once they had moved (one run each,
 * `apps/bench` store-level probe, one caller).
 */
const DEFAULT_QUIET_MOVE_SECONDS = 30;
/** How long moved rows stay in the delta once the main table's indexes hold them (DeltaMove). */
const DEFAULT_MOVE_GRACE_SECONDS = 10;
/**
 * Bounds of one group commit. A commit costs about the same for 1 or 200 small documents (an
 * upsert on an indexed key); 8,192 rows of 384 dimensions are ~12 MB of vectors in flight.
 */
const DEFAULT_MAX_BATCH_DOCUMENTS = 256;
const DEFAULT_MAX_BATCH_ROWS = 8_192;
/** How often a reader looks again for a chunk table's indexes while it lacks some. */
const INDEX_RECHECK_MS = 1_000;

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
   * Writer side only (the store that writes runs maintenance; readers never do): the full-text
   * index takes in new rows once this many are outside it (default 1,000), or once the oldest has
   * waited `maxUnindexedSeconds` (default 5; after a fold, at least four times that fold's duration,
   * which matters on a large table). Rows outside the index are still found, by a scan: these
   * bound that scan. Decided from the table's state, so a restart changes nothing.
   */
  maxUnindexedRows?: number;
  maxUnindexedSeconds?: number;
  /** Writer side only: compact a table past this many data fragments. Default 16. */
  maxFragments?: number;
  /**
   * Writer side only: new chunks are written to a small delta table, and moved into the main table
   * once it holds this many rows (default 5,000). See DeltaMove in maintenance.ts.
   */
  maxDeltaRows?: number;
  /**
   * Writer side only: once no commit has come for this long, the delta moves into the main table
   * whatever its size (default 30), so a store at rest is searched in one table.
   */
  quietMoveSeconds?: number;
  /**
   * Writer side only: how long moved rows stay in the delta after the main table's indexes hold
   * them (default 10): longer than the gap between a search's read of the main table and of the
   * delta.
   */
  moveGraceSeconds?: number;
  /**
   * Writer side only: bounds of one group commit (documents written together, and their chunks).
   * Defaults 256 and 8,192.
   */
  maxBatchDocuments?: number;
  maxBatchRows?: number;
  /**
   * Writer side only: locks shared by every process writing this store, so that two of them never
   * write one document at once (see {@link DocumentLocks}). Without them, one writer per store.
   */
  documentLocks?: DocumentLocks;
  /**
   * Both sides: the ordered index of the store's documents that `listDocuments` pages through
   * (see {@link DocumentListing}); the writer keeps it, readers read it. Without one, or while it
   * is incomplete, a page sorts the tenant's documents.
   */
  listing?: DocumentListing;
  /**
   * Both sides: copies of the committed document records outside LanceDB (see
   * {@link DocumentRecordCopies}); the writer keeps them, readers serve reads by key from them.
   * Without them, every read by key is a query on the documents table.
   */
  recordCopies?: DocumentRecordCopies;
  /**
   * Both sides: the count of commits that change what a search finds (see {@link CommitClock});
   * writers tick it, and a search served by the mirror reads it instead of each chunk table's
   * version. Without one, searches read the versions.
   */
  commitClock?: CommitClock;
  /** Writer side only: told of every group commit (documents, rows, duration), for metrics. */
  onCommit?: (stats: CommitStats) => void;
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
   * at compaction time). Default 2,000.
   */
  vectorIndexMinRows?: number;
  /**
   * Writer side only: rebuild the vector index as one segment once it has more than this many.
   * Default 8. Each fold of new rows adds a segment, and every search probes each of them.
   */
  maxVectorIndexSegments?: number;
  /**
   * Searches the engine runs at once; more wait their turn. Default 4: LanceDB already spreads a
   * query over every core, so more in parallel only adds memory (each holds its scan buffers).
   */
  maxConcurrentSearches?: number;
  /**
   * Rows outside the delta's full-text index that a hybrid search still scores by a scan (default
   * 200); past this it ranks them by its vector side alone until their fold. See
   * {@link DEFAULT_HYBRID_TEXT_TAIL_SCAN_ROWS}.
   */
  hybridTextTailScanRows?: number;
  /**
   * Readers: serve searches from an in-memory copy of every chunk, kept in step with the tables
   * (see {@link SearchMirror}), in a thread of its own (see {@link MirrorThread}); LanceDB answers
   * while it loads, past its `maxRows`, and for query vectors too dense for its scan. Without it,
   * every search queries LanceDB.
   */
  searchMirror?: Omit<MirrorThreadOptions, 'uri' | 'storageOptions'>;
  /** Readers: told what answered each search, for metrics. */
  onSearch?: (engine: 'mirror' | 'lancedb') => void;
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
  onMaintenanceError?: (error: unknown, operation: MaintenanceOperation) => void;
  /** Writer side only: told of every maintenance step that ran (compaction, index build), for metrics. */
  onMaintenance?: (stats: MaintenanceStats) => void;
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
  replaceDocument(doc: DocumentInput, chunks: ChunkInput[], options?: WriteOptions): Promise<DocumentRecord>;
  getDocument(tenant: string, collection: string, documentId: string): Promise<DocumentRecord | undefined>;
  /**
   * The stored records of many documents of one collection, by document id (missing ones absent):
   * lookups on the key index, a thousand ids per query. What a batch ingest compares its documents
   * with before doing any work.
   */
  getDocuments(
    tenant: string,
    collection: string,
    documentIds: readonly string[],
  ): Promise<Map<string, DocumentRecord>>;
  /** Documents ordered by (collection, documentId), one page at a time. */
  listDocuments(tenant: string, options: ListDocumentsOptions): Promise<DocumentPage>;
  /**
   * A document's current chunks in order (position, text, heading path, offsets), `limit` at a
   * time; undefined when there is no such document. Read-only. See chunk-list.ts for how the two
   * chunk tables are read.
   *
   * @throws StoreError `invalid_cursor` for a cursor this store did not produce, or one made before
   *   the document was replaced; `invalid_input` for a bad limit.
   */
  listChunks(
    tenant: string,
    collection: string,
    documentId: string,
    options: ListChunksOptions,
  ): Promise<ChunkPage | undefined>;
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
  /**
   * Writer side: removes tombstones, compacts both tables and folds every unindexed row into the
   * indexes now, instead of when the table's state calls for it. For tests and operators.
   */
  maintain(): Promise<void>;
  /**
   * Writer side: builds the document listing from the documents table when it is not complete
   * (a new listing, or one Redis lost), unless another writer is building it. 'none' without a
   * listing. Cheap when it is complete: the worker calls it on start and then periodically.
   */
  syncListing(): Promise<'built' | 'complete' | 'busy' | 'none'>;
  /**
   * Writer side: publishes copies of the records stored before there were copies (a store from an
   * older Hopper, a corpus loaded beside the workers) or since Redis lost them, unless that was
   * done already or another process is at it. Without record copies, `none`.
   */
  syncRecordCopies(): Promise<'built' | 'complete' | 'busy' | 'none'>;
  /**
   * Writer side: checks up to `PRUNE_BATCH` of the listing's suspects (keys a page skipped, or a
   * failed write left) and removes those whose document has no record, each under its write lock,
   * so a write in flight (listed before its commit) keeps its key. Returns how many it checked and
   * removed; the worker calls it periodically, as it calls `syncListing`.
   */
  pruneListing(): Promise<{ checked: number; removed: number }>;
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

/** How {@link Store.replaceDocument} treats a version that is already stored. */
export interface WriteOptions {
  /**
   * When the stored version has this write's `contentHash` and model, return it and write nothing
   * (a retried job whose first attempt committed). Default false: every write is a new version.
   */
  unlessStored?: boolean;
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

/** Candidates each side of a search returns: a hybrid search fuses more than it keeps. */
function candidateDepth(mode: SearchMode, topK: number): number {
  return mode === 'hybrid' ? Math.max(HYBRID_CANDIDATES, topK * 2) : topK;
}

/** The mode a query asks for, explicitly or by what it carries. */
function searchMode(query: SearchQuery): SearchMode {
  if (query.mode !== undefined) return query.mode;
  if (query.vector !== undefined && query.text !== undefined) return 'hybrid';
  return query.vector !== undefined ? 'vector' : 'text';
}

/** A chunk table that exists, with its name. */
interface ChunkTable {
  name: string;
  table: Table;
}

class LanceStore implements Store {
  readonly #db: Connection;
  readonly #session: Session;
  readonly #tables: TableHandles;
  readonly #searches: Semaphore;
  readonly #hybridTextTailScanRows: number;
  readonly #writer: DocumentWriter;
  readonly #maintenance: Maintenance;
  readonly #listing: DocumentListing | undefined;
  readonly #copies: DocumentRecordCopies | undefined;
  readonly #clock: CommitClock | undefined;
  readonly #locks: DocumentLocks | undefined;
  /**
   * Both sides: the indexed columns of each chunk table, and when they were read. Indexes, once
   * built, stay: a table with both its full-text and its vector index is not asked again; one
   * without a vector index at most every {@link INDEX_RECHECK_MS} (it only decides whether the main
   * table's vector search may skip unindexed rows).
   */
  readonly #indexed = new Map<string, { columns: Set<string>; at: number }>();
  /** The chunk tables that have every hit column (a table from before `page` may lack it). */
  readonly #hasPageColumn = new Set<string>();
  /** Readers: the documents table has its key column (written since group commits). */
  #hasDocumentKey = false;
  /** Vector length of the chunks table; fixed by the first write, so cached once known. */
  #dimension: number | undefined;
  #writes: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  readonly #mirror: MirrorThread | undefined;
  /** Stops handing the commit clock's ticks to the mirror; `undefined` when they are not followed. */
  readonly #following: Promise<(() => Promise<void>) | undefined> = Promise.resolve(undefined);
  readonly #onSearch: ((engine: 'mirror' | 'lancedb') => void) | undefined;

  constructor(db: Connection, session: Session, options: StoreOptions) {
    this.#db = db;
    this.#onSearch = options.onSearch;
    if (options.searchMirror) {
      this.#mirror = new MirrorThread({
        ...options.searchMirror,
        uri: options.uri,
        ...(options.storageOptions ? { storageOptions: options.storageOptions } : {}),
      });
      const mirror = this.#mirror;
      // Each commit's note takes its rows to the mirror: a search then rarely waits for it to read
      // the tables. Without the notes (Redis away) the mirror reads the tables, as without a clock.
      if (options.commitClock) {
        this.#following = options.commitClock
          .follow((tick) => mirror.tick(tick))
          .catch((error: unknown) => {
            options.searchMirror?.onError?.(error instanceof Error ? error : new Error(String(error)));
            return undefined;
          });
      }
    }
    this.#session = session;
    this.#tables = new TableHandles(db);
    this.#searches = new Semaphore(options.maxConcurrentSearches ?? DEFAULT_MAX_CONCURRENT_SEARCHES);
    this.#hybridTextTailScanRows = options.hybridTextTailScanRows ?? DEFAULT_HYBRID_TEXT_TAIL_SCAN_ROWS;
    this.#listing = options.listing;
    this.#copies = options.recordCopies;
    this.#clock = options.commitClock;
    this.#locks = options.documentLocks;
    const serialize = <T>(run: () => Promise<T>): Promise<T> => this.#serialize(run);
    this.#maintenance = new Maintenance(
      this.#tables,
      {
        maxUnindexedRows: options.maxUnindexedRows ?? DEFAULT_MAX_UNINDEXED_ROWS,
        maxUnindexedMs: (options.maxUnindexedSeconds ?? DEFAULT_MAX_UNINDEXED_SECONDS) * 1000,
        maxFragments: options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
        versionRetentionMs: (options.versionRetentionSeconds ?? DEFAULT_VERSION_RETENTION_SECONDS) * 1000,
        vectorIndexMinRows: options.vectorIndexMinRows ?? DEFAULT_VECTOR_INDEX_MIN_ROWS,
        maxVectorIndexSegments: options.maxVectorIndexSegments ?? DEFAULT_MAX_VECTOR_INDEX_SEGMENTS,
        maxDeltaRows: options.maxDeltaRows ?? DEFAULT_MAX_DELTA_ROWS,
        quietMoveMs: (options.quietMoveSeconds ?? DEFAULT_QUIET_MOVE_SECONDS) * 1000,
        moveGraceMs: (options.moveGraceSeconds ?? DEFAULT_MOVE_GRACE_SECONDS) * 1000,
        checkIntervalMs: MAINTENANCE_CHECK_INTERVAL_MS,
      },
      serialize,
      options.onMaintenanceError ?? (() => undefined),
      options.onMaintenance,
    );
    this.#writer = new DocumentWriter(db, this.#tables, {
      ...(options.documentLocks ? { locks: options.documentLocks } : {}),
      ...(options.listing ? { listing: options.listing } : {}),
      ...(options.recordCopies ? { copies: options.recordCopies } : {}),
      ...(options.commitClock ? { clock: options.commitClock } : {}),
      maxBatchDocuments: options.maxBatchDocuments ?? DEFAULT_MAX_BATCH_DOCUMENTS,
      maxBatchRows: options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS,
      serialize,
      onCommitted: () => this.#maintenance.afterCommit(),
      ...(options.onCommit ? { onCommit: options.onCommit } : {}),
    });
  }

  async replaceDocument(
    doc: DocumentInput,
    chunks: ChunkInput[],
    options: WriteOptions = {},
  ): Promise<DocumentRecord> {
    this.#assertOpen();
    const dimension = validateWrite(doc, chunks);
    return this.#writer.write(doc, chunks, dimension, options.unlessStored ?? false);
  }

  maintain(): Promise<void> {
    this.#assertOpen();
    return this.#maintenance.run(true);
  }

  async syncListing(): Promise<'built' | 'complete' | 'busy' | 'none'> {
    this.#assertOpen();
    const listing = this.#listing;
    if (!listing) return 'none';
    const tables = this.#tables;
    return guard('list', async () =>
      listing.build(async function* () {
        yield* scanDocuments(await tables.get(DOCUMENTS_TABLE));
      }),
    );
  }

  async syncRecordCopies(): Promise<'built' | 'complete' | 'busy' | 'none'> {
    this.#assertOpen();
    const copies = this.#copies;
    if (!copies) return 'none';
    return guard('copy', () =>
      copies.backfill(async (renew) => {
        const table = await this.#tables.get(DOCUMENTS_TABLE);
        if (!table || !(await this.#hasKeyColumn(table))) return;
        for await (const documents of scanDocuments(table)) {
          for (let start = 0; start < documents.length; start += COPY_BATCH) {
            await this.#copyRecords(copies, table, documents.slice(start, start + COPY_BATCH));
          }
          await renew();
        }
      }),
    );
  }

  async pruneListing(): Promise<{ checked: number; removed: number }> {
    this.#assertOpen();
    const listing = this.#listing;
    const locks = this.#locks;
    // Without write locks a write of another process could be between its listing and its commit.
    if (!listing || !locks) return { checked: 0, removed: 0 };
    return guard('list', async () => {
      const suspects = await listing.takeSuspects(PRUNE_BATCH);
      if (suspects.length === 0) return { checked: 0, removed: 0 };
      const keyOf = (doc: ListedDocument) => documentKey(doc.tenant, doc.collection, doc.documentId);
      const held = new Set(await locks.tryAcquire(suspects.map(keyOf)));
      try {
        const mine = suspects.filter((doc) => held.has(keyOf(doc)));
        // A document another writer holds is being written (or its failed group is still
        // undoing): checked again next time, once its writer is done.
        const busy = suspects.filter((doc) => !held.has(keyOf(doc)));
        if (busy.length > 0) await listing.suspect(busy);
        if (mine.length === 0) return { checked: 0, removed: 0 };
        const table = await this.#tables.get(DOCUMENTS_TABLE);
        // A store from before the key column is listed by sorting; its keys are left as they are.
        if (table && !(await this.#hasKeyColumn(table))) return { checked: mine.length, removed: 0 };
        const records = table ? await recordsByKey(table, mine.map(keyOf)) : new Map<string, unknown>();
        const stale = mine.filter((doc) => !records.has(keyOf(doc)));
        if (stale.length > 0) await listing.remove(stale);
        return { checked: mine.length, removed: stale.length };
      } finally {
        if (held.size > 0) await locks.release([...held]).catch(() => undefined);
      }
    });
  }

  /**
   * Publishes these documents' records as their copies, each under its write lock (as a write
   * does: marked, read, published), so a write or a delete running meanwhile is never undone. A
   * document another writer holds is marked and left to it: it is read from the table until its
   * next change publishes a copy. (Left unmarked, it would be taken for not stored once the copies
   * are complete, if that writer stopped before its own mark.)
   */
  async #copyRecords(copies: DocumentRecordCopies, table: Table, documents: ListedDocument[]): Promise<void> {
    const keyOf = (doc: ListedDocument) => documentKey(doc.tenant, doc.collection, doc.documentId);
    const locks = this.#locks;
    const held = locks ? new Set(await locks.tryAcquire(documents.map(keyOf))) : undefined;
    const mine = held ? documents.filter((doc) => held.has(keyOf(doc))) : documents;
    try {
      const token = randomUUID();
      const busy = held ? documents.filter((doc) => !held.has(keyOf(doc))) : [];
      if (busy.length > 0) await copies.mark(busy, token);
      if (mine.length === 0) return;
      await copies.mark(mine, token);
      const records = await recordsByKey(table, mine.map(keyOf));
      await copies.publish([...records.values()], token);
      // Deleted since the scan read them: no copy, and no mark left behind.
      const gone = mine.filter((doc) => !records.has(keyOf(doc)));
      if (gone.length > 0) await copies.forget(gone, token);
    } finally {
      if (locks && held && held.size > 0) await locks.release([...held]).catch(() => undefined);
    }
  }

  async getDocument(
    tenant: string,
    collection: string,
    documentId: string,
  ): Promise<DocumentRecord | undefined> {
    this.#assertOpen();
    return guard('read', () => this.#readDocument(tenant, collection, documentId));
  }

  async getDocuments(
    tenant: string,
    collection: string,
    documentIds: readonly string[],
  ): Promise<Map<string, DocumentRecord>> {
    this.#assertOpen();
    return guard('read', async () => {
      const records = new Map<string, DocumentRecord>();
      const table = await this.#tables.get(DOCUMENTS_TABLE);
      if (!table || documentIds.length === 0) return records;
      if (!(await this.#hasKeyColumn(table))) {
        for (const documentId of documentIds) {
          const record = await this.#readDocument(tenant, collection, documentId);
          if (record) records.set(documentId, record);
        }
        return records;
      }
      const stored = await readRecords(
        this.#copies,
        table,
        tenant,
        documentIds.map((documentId) => ({ collection, documentId })),
      );
      for (const record of stored.values()) records.set(record.documentId, record);
      return records;
    });
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
      // A table from before the key column is paged by sorting until the writer migrates it.
      const listed =
        this.#listing &&
        (await this.#hasKeyColumn(table)) &&
        (await pageFromListing(this.#listing, this.#copies, table, tenant, collection, after, limit));
      if (listed) {
        const last = listed.documents.at(-1);
        return listed.more && last
          ? { documents: listed.documents, nextCursor: encodeCursor(last) }
          : { documents: listed.documents };
      }
      // No listing (or not complete yet): the page is the first rows of the tenant's documents
      // sorted, which costs the whole table.
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

  async listChunks(
    tenant: string,
    collection: string,
    documentId: string,
    options: ListChunksOptions,
  ): Promise<ChunkPage | undefined> {
    this.#assertOpen();
    return guard('read', () =>
      listChunks(
        this.#tables,
        () => this.#readDocument(tenant, collection, documentId),
        { tenant, collection, documentId },
        options,
      ),
    );
  }

  async deleteDocument(tenant: string, collection: string, documentId: string): Promise<boolean> {
    this.#assertOpen();
    const key = documentKey(tenant, collection, documentId);
    const document = { tenant, collection, documentId };
    // The document's write lock, as a write takes it (before the writer's turn, as a group does): a
    // write and a delete of one document never interleave, in this process or across workers, so
    // the record copy each leaves behind is the stored one.
    await this.#lockForDelete(key);
    try {
      return await this.#serialize(() =>
        guard('delete', async () => {
          const token = randomUUID();
          // Marked first: from here until its copy is forgotten, the document is read from the table.
          await this.#copies?.mark([document], token);
          const where = scopeWhere(tenant, collection, documentId);
          let deleted = 0;
          // Chunks first: a crash in between leaves a record without chunks, which a retried
          // delete removes, rather than searchable chunks of a document nobody can see.
          const chunks = await this.#chunkTables();
          for (const { table } of chunks) deleted += (await table.delete(where)).numDeletedRows;
          const documents = await this.#tables.get(DOCUMENTS_TABLE);
          if (documents) deleted += (await documents.delete(where)).numDeletedRows;
          // After the delete: a listing may hold a document that is gone (readers skip it), never
          // miss one that is stored. A failure here leaves such a key behind, which is harmless; a
          // copy not forgotten keeps its mark, so it is never served.
          await this.#listing?.remove([document]).catch(() => undefined);
          await this.#copies?.forget([document], token).catch(() => undefined);
          // Not best effort: a delete that returned without it could be missed by a search that
          // began after it. Even when nothing was deleted: an earlier attempt may have deleted the
          // rows and stopped before its tick.
          await this.#clock?.tick(encodeChange([], [{ tenant, collection, documentId, version: 0 }]));
          if (chunks.length > 0 && deleted > 0) await this.#maintenance.afterCommit();
          return deleted > 0;
        }),
      );
    } finally {
      await this.#locks?.release([key]).catch(() => undefined);
    }
  }

  /** Waits for a document's write lock (held by a group commit at most a few seconds). */
  async #lockForDelete(key: string): Promise<void> {
    const locks = this.#locks;
    if (!locks) return;
    const deadline = Date.now() + DELETE_LOCK_WAIT_MS;
    for (;;) {
      const held = await guard('delete', () => locks.tryAcquire([key]));
      if (held.length > 0) return;
      if (Date.now() > deadline) {
        throw new StoreError(
          'unavailable',
          'The document is being written by another job; try the delete again',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, DELETE_LOCK_RETRY_MS));
    }
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
    const mirrored = await this.#searchMirror(tenant, query, mode);
    this.#onSearch?.(mirrored === undefined ? 'lancedb' : 'mirror');
    if (mirrored !== undefined) return mirrored;
    return this.#searches.run(() => this.#search(tenant, query, mode, filter));
  }

  /**
   * The search answered from the in-memory mirror, or `undefined` where LanceDB answers (see
   * {@link MemoryIndex.answer} and {@link MirrorThread.search}).
   */
  async #searchMirror(
    tenant: string,
    query: SearchQuery,
    mode: SearchMode,
  ): Promise<SearchHit[] | undefined> {
    if (this.#mirror === undefined) return undefined;
    const vector = mode === 'text' ? undefined : query.vector;
    const vectorUsable = vector !== undefined && vector.some((x) => x !== 0);
    const indexQuery: IndexQuery = {
      tenant,
      ...(query.collection === undefined ? {} : { collection: query.collection }),
      // Hybrid keeps both lists to the query model's chunks, as the LanceDB path does.
      ...(mode === 'text' ? {} : { model: query.model ?? '' }),
      ...(vectorUsable ? { vector } : {}),
      ...(mode === 'vector' ? {} : { text: query.text ?? '' }),
      ...(query.filter === undefined ? {} : { filter: query.filter }),
      depth: candidateDepth(mode, query.topK),
    };
    return this.#mirror.search(await this.#freshness(), indexQuery, mode, query.topK);
  }

  /**
   * What the mirror must have read to answer a search beginning now: the commit clock's reading,
   * or, without a clock or when it cannot be read, each chunk table's version.
   */
  async #freshness(): Promise<Freshness> {
    const clock = await this.#clock?.read().catch(() => undefined);
    return clock ? { clock } : { tables: await this.#tableVersions() };
  }

  /**
   * Each chunk table's latest version (a look at its newest manifest), main first: one LanceDB
   * call per table, each of which waits its turn for LanceDB's threads while searches and
   * maintenance keep them busy.
   */
  async #tableVersions(): Promise<TableVersions> {
    const versions: TableVersions = new Map();
    for (const { name, table } of await this.#chunkTables()) versions.set(name, await table.version());
    return versions;
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
      const tables = await this.#chunkTables();
      if (tables.length === 0) return [];
      const scope = scopeWhere(tenant, query.collection);
      const vector = useVector ? (query.vector as Float32Array) : undefined;
      const model = query.model ?? '';
      if (vector !== undefined) {
        const stored = await this.#tableDimension((tables[0] as ChunkTable).table);
        if (vector.length !== stored) {
          // A model mismatch explains a dimension mismatch better than the lengths do.
          await this.#checkSearchModel(tables, scope, model, query.collection);
          throw new StoreError(
            'dimension_mismatch',
            `The query vector has ${vector.length} dimensions but stored vectors have ${stored}`,
          );
        }
      }
      const depth = candidateDepth(mode, query.topK);
      // Hybrid keeps both lists to the query model's chunks, so the fused list never mixes in
      // chunks the vector side could not have seen. A text-only search needs no model.
      const where = sqlAnd(scope, useVector ? sqlEquals('model', model) : undefined, filter);
      const indexes = new Map<string, Set<string>>();
      for (const { name, table } of tables) indexes.set(name, await this.#indexedColumns(name, table));
      const textIndexed = (name: string) => useText && (indexes.get(name)?.has(TEXT_INDEX_COLUMN) ?? false);
      if (mode === 'text' && !tables.some(({ name }) => textIndexed(name))) {
        throw new StoreError(
          'not_ready',
          'Full-text search is not available yet: the full-text index is built by the worker with the ' +
            'next ingest. Use mode "vector" until then.',
        );
      }
      // A query with no terms (only stop words, for a lexical embedder) embeds to the zero vector,
      // which is no nearer to anything: cosine similarity is undefined, so there is no vector hit.
      const vectorUsable = vector !== undefined && vector.some((x) => x !== 0);
      const vectorRows: unknown[] = [];
      const textRows: unknown[] = [];
      // The main table first, then the delta, one after the other: a move writes rows into the
      // main table and folds them into its indexes before it removes them from the delta, so this
      // order never misses a row (see DeltaMove). The main table's rows outside its indexes are
      // skipped (fast search): they are still in the delta. Each table's two queries run together.
      for (const { name, table } of tables) {
        // An empty table (the delta of a store at rest, moved into the main table) costs two
        // queries for nothing; counting its rows is a look at its manifest.
        if ((await table.countRows()) === 0) continue;
        const columns = await this.#hitColumns(name, table);
        const main = name === CHUNKS_TABLE;
        const skipTextTail =
          !main &&
          mode === 'hybrid' &&
          vectorUsable &&
          textIndexed(name) &&
          ((await table.indexStats(TEXT_INDEX_NAME))?.numUnindexedRows ?? 0) > this.#hybridTextTailScanRows;
        const vectorQuery = () => {
          const search = table
            .vectorSearch(vector as Float32Array)
            .column('vector')
            .distanceType('cosine')
            // Ignored while the table has no vector index (an exact scan).
            .nprobes(VECTOR_INDEX_PROBES)
            // `where` before a search is a prefilter in LanceDB: `limit` counts matching rows.
            .where(where)
            .limit(depth)
            .select([...columns, '_distance']);
          // Without a vector index, fast search would skip every row.
          return main && indexes.get(name)?.has('vector') ? search.fastSearch() : search;
        };
        const textQuery = () => {
          const search = table
            .query()
            .fullTextSearch(query.text ?? '', { columns: TEXT_INDEX_COLUMN })
            .where(where)
            .limit(depth)
            .select([...columns, '_score']);
          // The delta's unindexed rows are scored by a scan, up to `hybridTextTailScanRows`.
          return main || skipTextTail ? search.fastSearch() : search;
        };
        const [vectorPart, textPart] = await Promise.all([
          vectorUsable ? vectorQuery().toArray() : [],
          textIndexed(name) ? textQuery().toArray() : [],
        ]);
        vectorRows.push(...(vectorPart as unknown[]));
        textRows.push(...(textPart as unknown[]));
      }
      // Only an empty result can hide a model mismatch, so the happy path pays no extra query.
      if (vectorUsable && vectorRows.length === 0) {
        await this.#checkSearchModel(tables, scope, model, query.collection);
      }
      const [textHits, vectorHits] = mergeTableHits(
        textRows.map((row) => hitFromRow(row, 'text')),
        vectorRows.map((row) => hitFromRow(row, 'vector')),
        depth,
      );
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
    await (
      await this.#following
    )?.();
    await this.#mirror?.close();
    await this.#writer.idle();
    this.#maintenance.close();
    await this.#writes;
    // Upkeep runs beside the commits; the tables stay open until it has ended.
    await this.#maintenance.idle();
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
    const hasKey = await this.#hasKeyColumn(table);
    if (hasKey && this.#copies) {
      return (await readRecords(this.#copies, table, tenant, [{ collection, documentId }])).get(
        documentKey(tenant, collection, documentId),
      );
    }
    // By key, a B-tree lookup: the same cost at 100 or 100,000 documents. A table an older Hopper
    // wrote has no key column until its writer adds it.
    const where = hasKey
      ? sqlEquals(DOCUMENT_KEY_COLUMN, documentKey(tenant, collection, documentId))
      : scopeWhere(tenant, collection, documentId);
    const rows: unknown[] = await table.query().where(where).select(DOCUMENT_COLUMNS).limit(1).toArray();
    return rows.length > 0 ? documentFromRow(rows[0]) : undefined;
  }

  async #hasKeyColumn(table: Table): Promise<boolean> {
    if (this.#hasDocumentKey) return true;
    this.#hasDocumentKey = (await table.schema()).fields.some((field) => field.name === DOCUMENT_KEY_COLUMN);
    return this.#hasDocumentKey;
  }

  /** Fixed by the table's first write, so read once. */
  async #tableDimension(table: Table): Promise<number> {
    this.#dimension ??= await tableDimension(table);
    return this.#dimension;
  }

  /** The chunk tables that exist, main first (the order searches read them in). */
  async #chunkTables(): Promise<ChunkTable[]> {
    const tables: ChunkTable[] = [];
    for (const name of CHUNK_TABLES) {
      const table = await this.#tables.get(name);
      if (table) tables.push({ name, table });
    }
    return tables;
  }

  /** Throws model_mismatch when the scope has chunks, none of them from the query's model. */
  async #checkSearchModel(
    tables: ChunkTable[],
    scope: string,
    model: string,
    collection?: string,
  ): Promise<void> {
    const probe = async (predicate: string): Promise<unknown[]> => {
      for (const { table } of tables) {
        const rows: unknown[] = await table
          .query()
          .where(sqlAnd(scope, predicate))
          .select(['model'])
          .limit(1)
          .toArray();
        if (rows.length > 0) return rows;
      }
      return [];
    };
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
  async #hitColumns(name: string, table: Table): Promise<readonly string[]> {
    if (this.#hasPageColumn.has(name)) return HIT_COLUMNS;
    const names = new Set((await table.schema()).fields.map((field) => field.name));
    if (names.has('page')) this.#hasPageColumn.add(name);
    return HIT_COLUMNS.filter((column) => names.has(column));
  }

  /** The columns of a chunk table that have an index (see {@link #indexed}). */
  async #indexedColumns(name: string, table: Table): Promise<Set<string>> {
    const known = this.#indexed.get(name);
    // Until the full-text index is seen, every search asks: a text search fails without it.
    if (
      known?.columns.has(TEXT_INDEX_COLUMN) &&
      (known.columns.has('vector') || Date.now() - known.at < INDEX_RECHECK_MS)
    ) {
      return known.columns;
    }
    const columns = new Set((await table.listIndices()).flatMap((index) => index.columns));
    this.#indexed.set(name, { columns, at: Date.now() });
    return columns;
  }
}
