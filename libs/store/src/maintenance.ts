import { Index, type Table } from '@lancedb/lancedb';
import {
  CHUNKS_TABLE,
  CHUNK_KEY_COLUMN,
  DOCUMENTS_TABLE,
  DOCUMENT_KEY_COLUMN,
  TEXT_INDEX_COLUMN,
} from './schema.ts';
import { sqlEquals } from './sql.ts';
import type { TableHandles } from './tables.ts';
import { TOMBSTONE_TENANT } from './writer.ts';

/** What the writer's maintenance keeps within bounds; see {@link Maintenance}. */
export interface MaintenancePolicy {
  /** Rows outside the full-text index (searched by a scan) that trigger an index update. */
  maxUnindexedRows: number;
  /** How long any row may stay outside the full-text index. */
  maxUnindexedMs: number;
  /** Data fragments a table may have before it is compacted. */
  maxFragments: number;
  /** Table versions older than this are removed at compaction. */
  versionRetentionMs: number;
  /** Rows from which the chunks table gets its vector index. */
  vectorIndexMinRows: number;
  /** Segments the vector index may have before it is rebuilt as one (see {@link Maintenance}). */
  maxVectorIndexSegments: number;
  /** Never checks more often than this while commits keep coming. */
  checkIntervalMs: number;
}

export type MaintenanceOperation = 'text index' | 'vector index' | 'optimize' | 'indexes' | 'tombstones';

/** One maintenance step that ran: which table, what it did, how long it took, the table's size. */
export interface MaintenanceStats {
  table: typeof CHUNKS_TABLE | typeof DOCUMENTS_TABLE;
  /** `optimize`: compaction, folding new rows into every index, and removing old versions. */
  operation: 'optimize' | 'vector index';
  ms: number;
  /** Rows in the table and its data fragments before the step (before the build, for an index). */
  rows: number;
  fragments: number;
}

/** The full-text index's name (LanceDB's default for an index on `search_text`). */
export const TEXT_INDEX_NAME = `${TEXT_INDEX_COLUMN}_idx`;
const VECTOR_INDEX_NAME = 'vector_idx';
/**
 * IVF_FLAT: rows are clustered into partitions, a query scans the nearest `VECTOR_INDEX_PROBES`
 * of them with exact distances. Chosen over IVF_PQ and IVF_HNSW_SQ on a 100k-chunk SciFact corpus
 * (builtin embedder): it builds in ~9 s instead of 100-170 s, is updated cheaply by `optimize`,
 * and keeps exact distances, so recall depends on the probes only. 80 of 128 partitions gave
 * recall@10 0.88 against the exact scan at ~11 ms (the scan: ~150-250 ms). Lexical vectors
 * cluster poorly; a neural embedding model's vectors reach higher recall with the same probes.
 */
const VECTOR_INDEX_PARTITIONS = 128;
export const VECTOR_INDEX_PROBES = 80;
/** After a fold, the time and fragment bounds rest for this many times its duration. */
const FOLD_PACING = 4;
/** Low-cardinality columns in every search's prefilter: bitmap indexes make the filter a lookup. */
const SCOPE_INDEX_COLUMNS = ['tenant', 'collection', 'model'] as const;

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

/**
 * The writer's upkeep, decided from the tables' own state, never from a count of writes kept in
 * memory: a restarted writer sees exactly what the last one left. After commits (at most every
 * `checkIntervalMs`) and on a timer while rows wait, it reads the full-text index's unindexed rows
 * and the tables' fragment counts, and when a bound is passed it removes tombstones, compacts, and
 * folds new rows into the indexes (`optimize`). Missing indexes (full-text, key B-trees, scope
 * bitmaps, the vector index past its size) are built as soon as they are missing. So no read scans
 * more than `maxUnindexedRows` rows outside the full-text index, or rows older than
 * `maxUnindexedMs` (plus one maintenance run).
 *
 * The vector index grows by segments: each `optimize` indexes the new rows as a segment of their
 * own (LanceDB's append mode; the JavaScript API cannot merge segments), a search probes every
 * segment, and compaction does not merge fragments that different segments cover. Left alone, at
 * ~100k chunks ingested one document at a time, the index had 153 segments, a vector search took
 * 612 ms instead of 49, and the chunks table stayed above its fragment bound, so maintenance ran
 * without pause and held every commit back (4 documents/s). So the index is rebuilt as one segment
 * past `maxVectorIndexSegments` (retrained on every row: ~10-30 s at 100k chunks on the 2-core
 * machine), and the fragment bound counts only the fragments compaction could merge (those beyond
 * one per segment).
 *
 * Compaction, folds and rebuilds all grow with the table (a fold rewrites the full-text index;
 * compaction rewrites every fragment under LanceDB's 1M-row target that one index segment covers),
 * so they run beside the commits, not in the writer's turn: at 100k chunks a fold takes ~2 s and a
 * rebuild's compaction ~15-30 s, which commits used to wait for. For the same reason, after a fold
 * the time and fragment bounds rest for four times its duration: on a large table, upkeep on the
 * clock would otherwise take the writer's whole time (and the reads' CPU).
 */
export class Maintenance {
  readonly #tables: TableHandles;
  readonly #policy: MaintenancePolicy;
  readonly #serialize: <T>(run: () => Promise<T>) => Promise<T>;
  readonly #onError: (error: unknown, operation: MaintenanceOperation) => void;
  readonly #onRun: (stats: MaintenanceStats) => void;
  /** Index names known to exist on each table; an index, once built, stays. */
  readonly #indexes = new Map<string, Set<string>>();
  /** When rows outside the full-text index were first seen (this process's clock). */
  #unindexedSince: number | undefined;
  #lastCheck = 0;
  /** How long the last fold of the chunks table took: paces folds on the clock (0 after a restart). */
  #lastFoldMs = 0;
  #lastFoldEnd = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #scheduled: Promise<void> | undefined;
  /** Compaction, index folds or a rebuild in flight beside the commits (see {@link #beside}). */
  #background: Promise<void> | undefined;

  constructor(
    tables: TableHandles,
    policy: MaintenancePolicy,
    serialize: <T>(run: () => Promise<T>) => Promise<T>,
    onError: (error: unknown, operation: MaintenanceOperation) => void,
    onRun: (stats: MaintenanceStats) => void = () => undefined,
  ) {
    this.#tables = tables;
    this.#policy = policy;
    this.#serialize = serialize;
    this.#onError = onError;
    this.#onRun = onRun;
  }

  /**
   * After a commit, in the writer's turn: builds missing indexes at once (so the first document is
   * searchable by text as soon as its write returns), then schedules a check, unless one ran a
   * moment ago.
   */
  async afterCommit(): Promise<void> {
    if (this.#closed) return;
    const chunks = await this.#tables.get(CHUNKS_TABLE).catch(() => undefined);
    if (chunks) await this.#ensureIndexes(chunks, CHUNKS_TABLE);
    const documents = await this.#tables.get(DOCUMENTS_TABLE).catch(() => undefined);
    if (documents) await this.#ensureIndexes(documents, DOCUMENTS_TABLE);
    if (this.#scheduled) return;
    if (Date.now() - this.#lastCheck < this.#policy.checkIntervalMs) {
      this.#arm(this.#policy.checkIntervalMs);
      return;
    }
    this.#schedule(false);
  }

  /** Runs every due step now (or every step, with `force`), in the writer's turn. */
  run(force = false): Promise<void> {
    return this.#serialize(() => this.#check(force));
  }

  /** Resolves once the upkeep running beside the commits has ended (the store waits on close). */
  async idle(): Promise<void> {
    await this.#background;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(force: boolean): void {
    this.#scheduled = this.#serialize(() => this.#check(force)).finally(() => {
      this.#scheduled = undefined;
    });
  }

  #arm(delayMs: number): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed && !this.#scheduled) this.#schedule(false);
    }, delayMs);
    // A waiting check must not keep a process alive that is otherwise done.
    this.#timer.unref();
  }

  async #check(force: boolean): Promise<void> {
    if (this.#closed) return;
    if (this.#background) {
      // One run beside the commits at a time; it checks again when it ends.
      if (!force) return;
      await this.#background;
    }
    this.#lastCheck = Date.now();
    const chunks = await this.#tables.get(CHUNKS_TABLE).catch(() => undefined);
    if (!chunks) return;
    await this.#ensureIndexes(chunks, CHUNKS_TABLE);
    const documents = await this.#tables.get(DOCUMENTS_TABLE).catch(() => undefined);
    if (documents) await this.#ensureIndexes(documents, DOCUMENTS_TABLE);

    let state: {
      unindexed: number;
      fragments: number;
      rows: number;
      segments: number;
      documentFragments: number;
      documentRows: number;
    };
    try {
      const chunkStats = await chunks.stats();
      const documentStats = documents ? await documents.stats() : undefined;
      state = {
        unindexed: (await chunks.indexStats(TEXT_INDEX_NAME))?.numUnindexedRows ?? 0,
        fragments: chunkStats.fragmentStats.numFragments,
        rows: chunkStats.numRows,
        segments: await this.#vectorIndexSegments(chunks),
        documentFragments: documentStats?.fragmentStats.numFragments ?? 0,
        documentRows: documentStats?.numRows ?? 0,
      };
    } catch (error) {
      this.#onError(error, 'optimize');
      return;
    }
    const { unindexed, fragments, rows, segments, documentFragments, documentRows } = state;
    const now = Date.now();
    if (unindexed === 0) this.#unindexedSince = undefined;
    else this.#unindexedSince ??= now;
    const waited = this.#unindexedSince === undefined ? 0 : now - this.#unindexedSince;
    // A fold costs more as the table grows (~0.1 s at 5k chunks, 2-5 s at 100k, more when it
    // compacts): after one, the time and fragment bounds rest for four times its duration, so upkeep
    // takes at most a fifth of the writer's time. The row bound still folds at once.
    const rest = this.#lastFoldEnd + FOLD_PACING * this.#lastFoldMs - now;
    const rebuild = segments > this.#policy.maxVectorIndexSegments;
    const chunksDue =
      force ||
      unindexed >= this.#policy.maxUnindexedRows ||
      (rest <= 0 &&
        ((unindexed > 0 && waited >= this.#policy.maxUnindexedMs) ||
          fragments - segments > this.#policy.maxFragments));
    // The documents table is small and every key lookup opens each of its fragments: it is
    // compacted on its own bound, resting with the chunks table and going with its folds.
    const documentsDue =
      documents !== undefined &&
      (force || ((rest <= 0 || chunksDue) && documentFragments > this.#policy.maxFragments));
    if (!rebuild && !chunksDue && !documentsDue) {
      // Rows are waiting: come back when the oldest of them reaches its bound, writes or not.
      if (unindexed > 0) this.#arm(Math.max(10, rest, this.#policy.maxUnindexedMs - waited));
      return;
    }
    if (chunksDue) {
      // Tombstones go in the writer's turn: a delete beside a commit could conflict with it.
      try {
        await chunks.delete(sqlEquals('tenant', TOMBSTONE_TENANT));
      } catch (error) {
        this.#onError(error, 'tombstones');
      }
    }
    const cleanupOlderThan = new Date(Date.now() - this.#policy.versionRetentionMs);
    const steps: Array<() => Promise<void>> = [];
    if (documentsDue && documents) {
      steps.push(() =>
        this.#step(DOCUMENTS_TABLE, 'optimize', documentRows, documentFragments, () =>
          documents.optimize({ cleanupOlderThan }),
        ),
      );
    }
    if (rebuild) {
      // Folds every row in; compaction and the full-text fold follow in the next check.
      steps.push(() =>
        this.#step(CHUNKS_TABLE, 'vector index', rows, fragments, () =>
          this.#buildVectorIndex(chunks, rows, true),
        ),
      );
    } else if (chunksDue) {
      steps.push(async () => {
        const started = performance.now();
        await this.#step(CHUNKS_TABLE, 'optimize', rows, fragments, () =>
          chunks.optimize({ cleanupOlderThan }),
        );
        this.#lastFoldMs = performance.now() - started;
        this.#lastFoldEnd = Date.now();
        this.#unindexedSince = undefined;
        await this.#maybeVectorIndex(chunks, fragments).catch((error: unknown) =>
          this.#onError(error, 'vector index'),
        );
      });
    }
    const work = this.#beside(steps);
    // An operator's forced run waits for the work, and for a rebuild's follow-up compaction.
    if (force) {
      await work;
      if (rebuild) await this.#check(true);
    }
  }

  /**
   * Runs the heavy steps outside the writer's turn, one run at a time: commits go on meanwhile
   * (a merge-insert that meets a concurrent compaction is retried by LanceDB; a compaction that
   * loses to a commit fails, is reported, and runs again at the next check), and their rows are
   * found by a scan until the next fold. When the steps end, a check follows at once, since rows
   * and fragments kept coming while they ran.
   */
  #beside(steps: Array<() => Promise<void>>): Promise<void> {
    // A check that was under way when the store began to close starts nothing more.
    if (this.#closed) return Promise.resolve();
    this.#background = (async () => {
      for (const step of steps) await step();
    })().finally(() => {
      this.#background = undefined;
      if (!this.#closed && !this.#scheduled) this.#arm(this.#policy.checkIntervalMs);
    });
    return this.#background;
  }

  async #step(
    table: MaintenanceStats['table'],
    operation: MaintenanceStats['operation'],
    rows: number,
    fragments: number,
    run: () => Promise<unknown>,
  ): Promise<void> {
    const started = performance.now();
    try {
      await run();
      this.#onRun({ table, operation, ms: performance.now() - started, rows, fragments });
    } catch (error) {
      this.#onError(error, operation);
    }
  }

  /** Segments of the vector index; 0 while it does not exist. */
  async #vectorIndexSegments(chunks: Table): Promise<number> {
    const known = this.#indexes.get(CHUNKS_TABLE);
    if (!known?.has(VECTOR_INDEX_NAME)) return 0;
    return (await chunks.indexStats(VECTOR_INDEX_NAME))?.numIndices ?? 0;
  }

  async #buildVectorIndex(table: Table, rows: number, replace: boolean): Promise<void> {
    // k-means wants a few hundred rows per partition to place its centroids well.
    const partitions = Math.max(1, Math.min(VECTOR_INDEX_PARTITIONS, Math.floor(rows / 256)));
    await table.createIndex('vector', {
      config: Index.ivfFlat({ distanceType: 'cosine', numPartitions: partitions }),
      name: VECTOR_INDEX_NAME,
      replace,
    });
  }

  /** Builds the indexes a table should have and lacks. Cheap once all exist (remembered). */
  async #ensureIndexes(table: Table, name: string): Promise<void> {
    const wanted =
      name === CHUNKS_TABLE
        ? [TEXT_INDEX_NAME, `${CHUNK_KEY_COLUMN}_idx`, ...SCOPE_INDEX_COLUMNS.map((c) => `${c}_idx`)]
        : [`${DOCUMENT_KEY_COLUMN}_idx`];
    const known = this.#indexes.get(name) ?? new Set<string>();
    if (wanted.every((index) => known.has(index))) return;
    try {
      for (const index of await table.listIndices()) known.add(index.name);
      this.#indexes.set(name, known);
      if (name === DOCUMENTS_TABLE) {
        if (!known.has(`${DOCUMENT_KEY_COLUMN}_idx`)) {
          await table.createIndex(DOCUMENT_KEY_COLUMN, { config: Index.btree() });
          known.add(`${DOCUMENT_KEY_COLUMN}_idx`);
        }
        return;
      }
      if (!known.has(TEXT_INDEX_NAME)) {
        try {
          await table.createIndex(TEXT_INDEX_COLUMN, { config: textIndexConfig() });
          known.add(TEXT_INDEX_NAME);
        } catch (error) {
          this.#onError(error, 'text index');
        }
      }
      if (!known.has(`${CHUNK_KEY_COLUMN}_idx`)) {
        await table.createIndex(CHUNK_KEY_COLUMN, { config: Index.btree() });
        known.add(`${CHUNK_KEY_COLUMN}_idx`);
      }
      for (const column of SCOPE_INDEX_COLUMNS) {
        if (known.has(`${column}_idx`)) continue;
        await table.createIndex(column, { config: Index.bitmap() });
        known.add(`${column}_idx`);
      }
    } catch (error) {
      this.#onError(error, 'indexes');
    }
  }

  /** The vector index, once the table is large enough for a scan to hurt. Built once. */
  async #maybeVectorIndex(table: Table, fragments: number): Promise<void> {
    const known = this.#indexes.get(CHUNKS_TABLE) ?? new Set<string>();
    if (known.has(VECTOR_INDEX_NAME)) return;
    const rows = await table.countRows();
    if (rows < this.#policy.vectorIndexMinRows) return;
    for (const index of await table.listIndices()) known.add(index.name);
    if (known.has(VECTOR_INDEX_NAME)) return;
    const started = performance.now();
    await this.#buildVectorIndex(table, rows, false);
    this.#onRun({
      table: CHUNKS_TABLE,
      operation: 'vector index',
      ms: performance.now() - started,
      rows,
      fragments,
    });
    known.add(VECTOR_INDEX_NAME);
  }
}
