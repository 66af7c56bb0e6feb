import { Index, type Table } from '@lancedb/lancedb';
import {
  CHUNK_TABLES,
  CHUNKS_TABLE,
  CHUNK_KEY_COLUMN,
  DELTA_TABLE,
  DOCUMENTS_TABLE,
  DOCUMENT_KEY_COLUMN,
  TEXT_INDEX_COLUMN,
} from './schema.ts';
import { sqlEquals, sqlString } from './sql.ts';
import type { ChunkTableName } from './schema.ts';
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
  /** Rows the delta table may hold before they are moved into the main table. */
  maxDeltaRows: number;
  /** No commit for this long: the delta moves into the main table whatever its size. */
  quietMoveMs: number;
  /** How long moved rows stay in the delta once the main table's indexes hold them. */
  moveGraceMs: number;
  /** Never checks more often than this while commits keep coming. */
  checkIntervalMs: number;
}

export type MaintenanceOperation =
  'text index' | 'vector index' | 'optimize' | 'indexes' | 'tombstones' | 'move';

/** One maintenance step that ran: which table, what it did, how long it took, the table's size. */
export interface MaintenanceStats {
  table: ChunkTableName | typeof DOCUMENTS_TABLE;
  /**
   * `optimize`: compaction, folding new rows into every index, and removing old versions. `move`:
   * the delta's rows written into the main table (`rows` counts them).
   */
  operation: 'optimize' | 'vector index' | 'move';
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
/** Positions in one delete of moved rows from the delta (keeps each statement's SQL modest). */
const SLOTS_PER_DELETE = 2_000;

/** A chunk table's fold history, which paces its upkeep on the clock (reset by a restart). */
interface FoldState {
  /** When rows outside the full-text index were first seen (this process's clock). */
  unindexedSince: number | undefined;
  lastFoldMs: number;
  lastFoldEnd: number;
}

/**
 * The delta's rows on their way into the main table. New versions are written to the small delta,
 * and a move takes them into the main table in three steps, each in the writer's turn or beside it:
 * 1. Its rows are upserted into the main table in one commit.
 * 2. The main table is folded beside the commits, so that its indexes hold them. Searches skip the
 *    main table's rows outside its indexes (LanceDB's fast search), so until then the delta is
 *    where they are found, and the main table's scan cost never grows with a move.
 * 3. `moveGraceMs` after the fold, they are deleted from the delta: each by its position and
 *    version, so that a position rewritten since (a newer version) stays. Not by row address:
 *    compaction of the delta, which goes on meanwhile, moves rows to new fragments.
 * The grace is there because a search reads the main table and then the delta: one that read the
 * main table before the fold (when the moved rows were outside its indexes, so skipped) must still
 * find them in the delta. Seconds are ample for the gap between a search's two reads.
 * A move starts when the delta passes `maxDeltaRows`, or once no commit has come for
 * `quietMoveMs` (a store at rest is then searched in one table: one query per side instead of
 * two, and one set of full-text statistics for every chunk).
 * In between, a row is in both tables, which a search counts once. A document replaced meanwhile
 * is rewritten into the delta and deleted from the main table. A restart forgets a move between steps 1 and 3: the rows stay in both
 * tables until the next move takes them again (an upsert, so nothing doubles).
 */
interface DeltaMove {
  /** The moved positions (slot keys), by the version each held. */
  slots: Map<number, string[]>;
  /** When step 2 ended. */
  foldedAt: number | undefined;
}
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
  /** Per chunk table: unindexed rows first seen, and the last fold (see {@link FoldState}). */
  readonly #folds = new Map<ChunkTableName, FoldState>(
    CHUNK_TABLES.map((name) => [name, { unindexedSince: undefined, lastFoldMs: 0, lastFoldEnd: 0 }]),
  );
  /** The delta's rows last moved into the main table, until they are deleted from the delta. */
  #moved: DeltaMove | undefined;
  #lastCheck = 0;
  /** This process's last commit (0: none yet); the delta moves once it is `quietMoveMs` old. */
  #lastCommit = 0;
  #timer: NodeJS.Timeout | undefined;
  #quietTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #scheduled: Promise<void> | undefined;
  /**
   * Compaction, index folds or a rebuild in flight beside the commits, one per table (see
   * {@link #beside}): the main table's long folds never hold the small delta's back.
   */
  readonly #background = new Map<string, Promise<void>>();

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
    this.#lastCommit = Date.now();
    this.#armQuietMove();
    for (const name of CHUNK_TABLES) {
      const chunks = await this.#tables.get(name).catch(() => undefined);
      if (chunks) await this.#ensureIndexes(chunks, name);
    }
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
    await Promise.all(this.#background.values());
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#quietTimer);
    this.#timer = undefined;
    this.#quietTimer = undefined;
  }

  /** A check once commits have stopped for `quietMoveMs`: pushed back by every commit. */
  #armQuietMove(): void {
    clearTimeout(this.#quietTimer);
    this.#quietTimer = setTimeout(() => {
      this.#quietTimer = undefined;
      if (this.#closed) return;
      if (this.#scheduled) this.#arm(this.#policy.checkIntervalMs);
      else this.#schedule(false);
    }, this.#policy.quietMoveMs);
    this.#quietTimer.unref();
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

  async #check(force: boolean, again = true): Promise<void> {
    if (this.#closed) return;
    // One run per table beside the commits; each checks again when it ends. A forced run waits
    // for them, so that it sees (and folds) everything.
    if (force) await this.idle();
    this.#lastCheck = Date.now();
    const documents = await this.#tables.get(DOCUMENTS_TABLE).catch(() => undefined);
    if (documents) await this.#ensureIndexes(documents, DOCUMENTS_TABLE);
    const delta = await this.#tables.get(DELTA_TABLE).catch(() => undefined);
    if (delta) await this.#ensureIndexes(delta, DELTA_TABLE);
    let main = await this.#tables.get(CHUNKS_TABLE).catch(() => undefined);
    if (main) await this.#ensureIndexes(main, CHUNKS_TABLE);

    let moved = false;
    if (delta) {
      try {
        moved = await this.#moveDelta(main, delta, force);
      } catch (error) {
        this.#onError(error, 'move');
      }
      main ??= await this.#tables.get(CHUNKS_TABLE).catch(() => undefined);
      if (main && moved) await this.#ensureIndexes(main, CHUNKS_TABLE);
    }
    let chunksDue = false;
    for (const [name, table] of [
      [CHUNKS_TABLE, main],
      [DELTA_TABLE, delta],
    ] as const) {
      if (!table || this.#background.has(name)) continue;
      chunksDue =
        (await this.#checkChunks(table, name, force || (moved && name === CHUNKS_TABLE))) || chunksDue;
    }
    if (documents && !this.#background.has(DOCUMENTS_TABLE)) {
      try {
        const stats = await documents.stats();
        const rest = this.#rest(DELTA_TABLE, Date.now());
        // The documents table is small and every key lookup opens each of its fragments: it is
        // compacted on its own bound, resting with the delta and going with its folds.
        if (
          force ||
          ((rest <= 0 || chunksDue) && stats.fragmentStats.numFragments > this.#policy.maxFragments)
        ) {
          const cleanupOlderThan = new Date(Date.now() - this.#policy.versionRetentionMs);
          void this.#beside(DOCUMENTS_TABLE, [
            () =>
              this.#step(DOCUMENTS_TABLE, 'optimize', stats.numRows, stats.fragmentStats.numFragments, () =>
                documents.optimize({ cleanupOlderThan }),
              ),
          ]);
        }
      } catch (error) {
        this.#onError(error, 'optimize');
      }
    }
    // An operator's forced run waits for the work, then runs once more: a rebuild's compaction
    // and a move's last step follow their first pass.
    if (force) {
      await this.idle();
      if (again) await this.#check(true, false);
    }
  }

  /**
   * Moves the delta into the main table when it has passed its bound (or on a forced run), in the
   * writer's turn; see {@link DeltaMove} for the steps and why each comes when it does. Returns
   * whether rows were written into the main table.
   */
  async #moveDelta(main: Table | undefined, delta: Table, force: boolean): Promise<boolean> {
    const moved = this.#moved;
    if (moved) {
      if (moved.foldedAt === undefined) {
        // Still waiting for the main table's fold; a failed fold is retried by the main check.
        return false;
      }
      const waited = Date.now() - moved.foldedAt;
      if (waited < this.#policy.moveGraceMs && !force) {
        this.#arm(this.#policy.moveGraceMs - waited);
        return false;
      }
      for (const [version, slots] of moved.slots) {
        for (let start = 0; start < slots.length; start += SLOTS_PER_DELETE) {
          const keys = slots.slice(start, start + SLOTS_PER_DELETE).map(sqlString);
          await delta.delete(`version = ${version} AND ${CHUNK_KEY_COLUMN} IN (${keys.join(', ')})`);
        }
      }
      this.#moved = undefined;
      // On to the next move, if the rows written since call for one.
    }
    if (this.#background.has(CHUNKS_TABLE)) return false;
    const rows = await delta.countRows();
    const quiet = this.#lastCommit > 0 && Date.now() - this.#lastCommit >= this.#policy.quietMoveMs;
    if (rows === 0 || (rows < this.#policy.maxDeltaRows && !force && !quiet)) return false;
    const started = performance.now();
    const data = await delta.query().toArrow();
    if (data.numRows === 0) return false;
    const slots = new Map<number, string[]>();
    const slotColumn = data.getChild(CHUNK_KEY_COLUMN);
    const versionColumn = data.getChild('version');
    for (let i = 0; i < data.numRows; i++) {
      const version = Number(versionColumn?.get(i));
      const list = slots.get(version) ?? [];
      list.push(String(slotColumn?.get(i)));
      slots.set(version, list);
    }
    const target = main ?? (await this.#tables.getOrCreate(CHUNKS_TABLE, data.schema as never));
    // Conditional: a row moved by an earlier snapshot (another writer's) never overwrites a newer.
    await target
      .mergeInsert(CHUNK_KEY_COLUMN)
      .whenMatchedUpdateAll({ where: 'target.version <= source.version' })
      .whenNotMatchedInsertAll()
      .execute(data);
    this.#moved = { slots, foldedAt: undefined };
    const fragments = (await delta.stats()).fragmentStats.numFragments;
    this.#onRun({ table: DELTA_TABLE, operation: 'move', ms: performance.now() - started, rows, fragments });
    return true;
  }

  /**
   * Decides a chunk table's upkeep from its state and starts it beside the commits. Returns whether
   * the table is being folded (the documents table goes along).
   */
  async #checkChunks(table: Table, name: ChunkTableName, force: boolean): Promise<boolean> {
    const fold = this.#folds.get(name) as FoldState;
    let state: { unindexed: number; fragments: number; rows: number; segments: number };
    try {
      const stats = await table.stats();
      state = {
        unindexed: (await table.indexStats(TEXT_INDEX_NAME))?.numUnindexedRows ?? 0,
        fragments: stats.fragmentStats.numFragments,
        rows: stats.numRows,
        segments: await this.#vectorIndexSegments(table, name),
      };
    } catch (error) {
      this.#onError(error, 'optimize');
      return false;
    }
    const { unindexed, fragments, rows, segments } = state;
    const now = Date.now();
    if (unindexed === 0) fold.unindexedSince = undefined;
    else fold.unindexedSince ??= now;
    const waited = fold.unindexedSince === undefined ? 0 : now - fold.unindexedSince;
    // A fold costs more as the table grows (~0.1 s at 5k chunks, 2-5 s at 100k, more when it
    // compacts): after one, the time and fragment bounds rest for four times its duration, so upkeep
    // takes at most a fifth of the writer's time. The row bound still folds at once. The main table
    // is folded when a move has written into it: its new rows are read from the delta until then.
    const rest = this.#rest(name, now);
    const rebuild = segments > this.#policy.maxVectorIndexSegments;
    const due =
      force ||
      (name === DELTA_TABLE && unindexed >= this.#policy.maxUnindexedRows) ||
      (rest <= 0 &&
        ((unindexed > 0 && waited >= this.#policy.maxUnindexedMs) ||
          fragments - segments > this.#policy.maxFragments));
    if (!rebuild && !due) {
      // Rows are waiting: come back when the oldest of them reaches its bound, writes or not.
      if (unindexed > 0) this.#arm(Math.max(10, rest, this.#policy.maxUnindexedMs - waited));
      return false;
    }
    if (due) {
      // Tombstones go in the writer's turn: a delete beside a commit could conflict with it.
      try {
        await table.delete(sqlEquals('tenant', TOMBSTONE_TENANT));
      } catch (error) {
        this.#onError(error, 'tombstones');
      }
    }
    const cleanupOlderThan = new Date(Date.now() - this.#policy.versionRetentionMs);
    const moving = name === CHUNKS_TABLE && this.#moved !== undefined && this.#moved.foldedAt === undefined;
    void this.#beside(name, [
      rebuild
        ? // Folds every row in; compaction and the full-text fold follow in the next check.
          () =>
            this.#step(name, 'vector index', rows, fragments, () =>
              this.#buildVectorIndex(table, name, rows, true),
            )
        : async () => {
            const started = performance.now();
            const ok = await this.#step(name, 'optimize', rows, fragments, () =>
              table.optimize({ cleanupOlderThan }),
            );
            fold.lastFoldMs = performance.now() - started;
            fold.lastFoldEnd = Date.now();
            if (!ok) return;
            fold.unindexedSince = undefined;
            await this.#maybeVectorIndex(table, name, fragments).catch((error: unknown) =>
              this.#onError(error, 'vector index'),
            );
            // The moved rows are in the main table's indexes: the delta may let them go.
            if (moving && this.#moved) this.#moved.foldedAt = Date.now();
          },
    ]);
    return due;
  }

  /** How long a table's time and fragment bounds still rest after its last fold (ms; <= 0: not). */
  #rest(name: ChunkTableName, now: number): number {
    const fold = this.#folds.get(name) as FoldState;
    return fold.lastFoldEnd + FOLD_PACING * fold.lastFoldMs - now;
  }

  /**
   * Runs the heavy steps outside the writer's turn, one run at a time: commits go on meanwhile
   * (a merge-insert that meets a concurrent compaction is retried by LanceDB; a compaction that
   * loses to a commit fails, is reported, and runs again at the next check), and their rows are
   * found by a scan until the next fold. When the steps end, a check follows at once, since rows
   * and fragments kept coming while they ran.
   */
  #beside(lane: string, steps: Array<() => Promise<unknown>>): Promise<void> {
    // A check that was under way when the store began to close starts nothing more.
    if (this.#closed) return Promise.resolve();
    const run = (async () => {
      for (const step of steps) await step();
    })().finally(() => {
      this.#background.delete(lane);
      if (!this.#closed && !this.#scheduled) this.#arm(this.#policy.checkIntervalMs);
    });
    this.#background.set(lane, run);
    return run;
  }

  /** Runs one step, reports it; false when it failed (reported to `onError`). */
  async #step(
    table: MaintenanceStats['table'],
    operation: MaintenanceStats['operation'],
    rows: number,
    fragments: number,
    run: () => Promise<unknown>,
  ): Promise<boolean> {
    const started = performance.now();
    try {
      await run();
      this.#onRun({ table, operation, ms: performance.now() - started, rows, fragments });
      return true;
    } catch (error) {
      this.#onError(error, operation);
      return false;
    }
  }

  /** Segments of the vector index; 0 while it does not exist. */
  async #vectorIndexSegments(chunks: Table, name: ChunkTableName): Promise<number> {
    const known = this.#indexes.get(name);
    if (!known?.has(VECTOR_INDEX_NAME)) return 0;
    return (await chunks.indexStats(VECTOR_INDEX_NAME))?.numIndices ?? 0;
  }

  async #buildVectorIndex(table: Table, name: ChunkTableName, rows: number, replace: boolean): Promise<void> {
    // k-means wants a few hundred rows per partition to place its centroids well. The delta's
    // searches probe every partition, so they stay exact however large a burst makes it.
    const most = name === DELTA_TABLE ? VECTOR_INDEX_PROBES : VECTOR_INDEX_PARTITIONS;
    const partitions = Math.max(1, Math.min(most, Math.floor(rows / 256)));
    await table.createIndex('vector', {
      config: Index.ivfFlat({ distanceType: 'cosine', numPartitions: partitions }),
      name: VECTOR_INDEX_NAME,
      replace,
    });
  }

  /** Builds the indexes a table should have and lacks. Cheap once all exist (remembered). */
  async #ensureIndexes(table: Table, name: string): Promise<void> {
    const wanted =
      name !== DOCUMENTS_TABLE
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

  /**
   * The vector index of a chunk table, once it is large enough for a scan to cost more than the
   * index. Built once; each fold adds its new rows as a segment, and past `maxVectorIndexSegments`
   * it is rebuilt. The delta has one too: under steady ingestion it holds 5-10k rows (the rows
   * waiting plus those moved and still in their grace), and a search scanned all their vectors
   * from disk. In that state (9,285 delta rows, SciFact, one caller, store level) a vector search
   * cost 16.3 ms of CPU without the index and 8.6 ms with it, a hybrid one 29 and 22 ms; the index
   * built in ~0.25 s. The rows written since the last fold are still scanned, so nothing is missed.
   */
  async #maybeVectorIndex(table: Table, name: ChunkTableName, fragments: number): Promise<void> {
    const known = this.#indexes.get(name) ?? new Set<string>();
    if (known.has(VECTOR_INDEX_NAME)) return;
    const rows = await table.countRows();
    if (rows < this.#policy.vectorIndexMinRows) return;
    for (const index of await table.listIndices()) known.add(index.name);
    if (known.has(VECTOR_INDEX_NAME)) return;
    const started = performance.now();
    await this.#buildVectorIndex(table, name, rows, false);
    this.#onRun({
      table: name,
      operation: 'vector index',
      ms: performance.now() - started,
      rows,
      fragments,
    });
    known.add(VECTOR_INDEX_NAME);
  }
}
