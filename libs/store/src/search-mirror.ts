import type { Connection, Table } from '@lancedb/lancedb';
import { decodeChange, type CommitChange } from './change-notes.ts';
import type { ClockReading, ClockTick } from './commit-clock.ts';
import { MemoryIndex, type IndexedChunk } from './memory-index.ts';
import { isMissingDataset } from './tables.ts';
import { documentKey } from './keys.ts';
import { parseMetadata } from './metadata.ts';
import { HIT_COLUMNS } from './rows.ts';
import { CHUNK_TABLES, DELTA_TABLE, vectorDimension } from './schema.ts';
import { TOMBSTONE_TENANT } from './writer.ts';

/** Rows read by id in one take. */
const TAKE_BATCH = 2_000;
/**
 * A search waits while the mirror reads commits it has not seen, unless a table has grown by more
 * than this many rows since the mirror last read it (a large import): LanceDB answers it, and the
 * reading goes on.
 */
const FAR_BEHIND_ROWS = 2_000;
/** The longest the mirror indexes rows before it lets waiting searches run. */
const SLICE_MS = 4;
/**
 * How often the mirror reads new commits by itself, so that a search finds little left to read
 * and a large import is indexed as it lands, not at the first search after it.
 */
const FOLLOW_INTERVAL_MS = 1_000;
/**
 * How long a search whose clock reading is ahead of the index waits for the commit's note before
 * the mirror reads the tables instead. A note is sent before the write returns, so it is most often
 * here before the search; past this it was lost (a connection down), or comes too slowly.
 */
const NOTE_WAIT_MS = 100;
/**
 * How often the mirror reads the tables by itself while commits' notes reach it: notes carry every
 * change of rows, so this read only keeps what it knows of the tables (row ids) near their state,
 * for a read after a missed note.
 */
const RECONCILE_INTERVAL_MS = 60_000;
/** Notes kept while the mirror cannot apply them (loading); past this it reads the tables instead. */
const MAX_WAITING_NOTES = 256;
/** How long after a failed first load the next one starts. */
const LOAD_RETRY_MS = 5_000;

/** Past this share of a table's rows to read, one streamed scan costs less than takes by id. */
const SCAN_SHARE = 0.2;

const KEY_COLUMNS = ['tenant', 'collection', 'chunk_id'];

/** Every column a row in the mirror needs: a hit's, and what scopes, filters and ranks it. */
const ROW_COLUMNS = [...HIT_COLUMNS, 'tenant', 'model', 'meta_kv', 'vector', 'search_text'];

export interface SearchMirrorOptions {
  /** More chunks than this (all tenants) and the mirror turns itself off: LanceDB serves searches. */
  maxRows: number;
  /** Its state changes and failures, for the process's log. */
  onReady?: (stats: { rows: number; ms: number }) => void;
  onOff?: (reason: string) => void;
  onError?: (error: unknown) => void;
  /** The chunks it holds, after each change (0 once off). */
  onSize?: (rows: number) => void;
  /** Each commit applied from its note, and each read of the tables that ended. */
  onUpdate?: (source: 'note' | 'tables') => void;
}

/** Each chunk table's latest version, as a search read them (main first), by table name. */
export type TableVersions = Map<string, number>;

/**
 * What a search needs the mirror to have read, taken as the search began: the store's commit
 * clock (see {@link CommitClock}), or, where the store has none or it could not be read, each chunk
 * table's version.
 */
export type Freshness = { clock: ClockReading } | { tables: TableVersions };

/** A sync in progress: its end, and whether it found itself far behind (see `current`). */
interface Sync {
  done: Promise<void>;
  /** Resolves once the sync finds a table far behind; never, if it does not. */
  farBehind: Promise<typeof FAR_BEHIND>;
}

const FAR_BEHIND = Symbol('far behind');

interface TableState {
  version: number;
  /** The table's rows at that version by row id, with their keys (tombstones left out). */
  rows: Map<number, string>;
  keys: Set<string>;
  /** Its live rows, tombstones included (what LanceDB's `countRows` counts). */
  count: number;
  /** Above every fragment id it listed: rows with ids from this fragment on are new to it. */
  nextFragment: number;
}

/**
 * What reading one table at a new version found. With `extends`, `rows` and `keys` are only the
 * rows new since that state, which still holds every other row (see {@link settle}): a table of
 * 100k rows is not copied for each commit that appends to it.
 */
interface TableRead extends TableState {
  extends?: TableState;
  /** Keys of rows the previous version had and this one has not. */
  left: string[];
}

/** Arrow's column accessor, as LanceDB's own apache-arrow copy hands it out (compared by shape). */
interface Column {
  get(index: number): unknown;
}

interface ArrowBatch {
  numRows: number;
  getChild(name: string): (Column & { data: { children: { values: Float32Array }[] }[] }) | null;
}

/** What `toArrow()` gives: its record batches. */
interface ArrowTable {
  batches: ArrowBatch[];
}

/**
 * Every chunk of the store, in memory, kept in step with the chunk tables: searches are served
 * from it (see {@link MemoryIndex}) instead of four LanceDB queries. Gateways run one in a thread
 * of its own (see {@link MirrorThread}); writers never need it.
 *
 * It follows the tables by their versions. A sync reads both tables' latest versions; where one
 * moved since the mirror last looked, it reads that table's row keys at the new version (pinned, so
 * the rows it then takes by id are the ones it listed), takes the rows it lacks, and drops the keys
 * no table holds any more. A search waits for a sync when the index may lack a commit made before
 * the search began, which it tells by what the search read as it began (its {@link Freshness}):
 * - the commit clock: every write ticks it after its commit and before it returns, and each tick
 *   carries the commit's note (its rows and its documents' versions), which the gateway hands to
 *   {@link tick}: most often the index has taken the commit in from its note before the search
 *   arrives, or does within milliseconds. Otherwise a sync that starts after the search's reading
 *   arrived here sees every write that reading counts: the mirror notes the newest reading
 *   searches brought when each sync starts, and once that sync has ended, a search whose reading
 *   is no newer needs no other. Maintenance's commits do not tick the clock (they change how rows
 *   are stored, not which): the mirror reads them by itself;
 * - otherwise each table's version (LanceDB's check for a newer manifest): the index must have read
 *   at least those.
 * So a search sees every commit made before it began, as a LanceDB query would: a job that says
 * `completed` is found by the next search on any gateway.
 *
 * The main table is read before the delta, as searches read them: a move writes rows into the
 * main table before it removes them from the delta (after a grace of seconds), so no moved row is
 * ever missing from both reads. A replacement seen between its commits to the two tables leaves
 * both versions in the mirror for a moment; the index searches only each document's newest.
 *
 * Until the first load completes, and when the store holds more chunks than `maxRows`, it serves
 * nothing and LanceDB answers.
 */
export class SearchMirror {
  readonly #db: Connection;
  readonly #options: SearchMirrorOptions;
  readonly #handles = new Map<string, Table>();
  readonly #tables = new Map<string, TableState>();
  #index: MemoryIndex | undefined;
  #state: 'loading' | 'ready' | 'off' = 'loading';
  #syncing: Sync | undefined;
  #follower: NodeJS.Timeout | undefined;
  /** Keys whose rows the sync in progress has read (a moved row is in both tables a while). */
  readonly #reading = new Set<string>();
  /** Syncs started so far: each is numbered, and a search that arrived before one starts is served by it. */
  #syncsStarted = 0;
  /** The number of the latest sync whose reads the index holds. */
  #lastSynced = 0;
  /** The newest commit clock reading a search has brought (of the newest epoch brought). */
  #heard: ClockReading | undefined;
  /**
   * The reading the index has read past: what {@link #heard} was when the latest sync started, or
   * the latest note applied since.
   */
  #clock: ClockReading | undefined;
  /** Ticks handed in and not applied yet, in order. */
  #notes: ClockTick[] = [];
  /** A tick could not be applied (a gap, another epoch, no note): only reading the tables helps. */
  #mustRead = false;
  /** Whether ticks are handed in at all (a store with a clock that is followed). */
  #ticked = false;
  /** Notes applied while a sync reads the tables: applied again after its rows (see {@link tick}). */
  #appliedDuringSync: CommitChange[] | undefined;
  /** While a tenant's index is rebuilt, nothing may change it: notes wait. */
  #compacting = false;
  /** The notes being applied, one slice at a time; resolves once none is half applied. */
  #applying: Promise<void> | undefined;
  /** Notes came (or a sync ended) as the application was ending: it runs again. */
  #applyAgain = false;
  /** When the tables were last read (ms), for {@link RECONCILE_INTERVAL_MS}. */
  #tablesReadAt = 0;
  /** Searches waiting for the index to take in a note. */
  readonly #waiting = new Set<() => void>();
  #closed = false;
  #reportedSize = 0;

  constructor(db: Connection, options: SearchMirrorOptions) {
    this.#db = db;
    this.#options = options;
  }

  /**
   * Starts the first load in the background (retried every few seconds while it fails), then
   * follows the tables every {@link FOLLOW_INTERVAL_MS}. Searches use LanceDB until the first load
   * has completed.
   */
  start(): void {
    const started = Date.now();
    const attempt = (): void => {
      if (this.#closed) return;
      this.#catchUp().done.then(
        () => {
          if (this.#state !== 'loading') return;
          this.#state = 'ready';
          this.#options.onReady?.({ rows: this.#index?.size ?? 0, ms: Date.now() - started });
          this.#applyNotes();
          this.#follower = setInterval(() => {
            if (this.#state !== 'ready') return;
            const notesFlow = this.#ticked && !this.#mustRead;
            if (notesFlow && Date.now() - this.#tablesReadAt < RECONCILE_INTERVAL_MS) return;
            this.#catchUp().done.catch((error: unknown) => this.#options.onError?.(error));
          }, FOLLOW_INTERVAL_MS);
          this.#follower.unref();
        },
        (error: unknown) => {
          this.#options.onError?.(error);
          setTimeout(attempt, LOAD_RETRY_MS).unref();
        },
      );
    };
    attempt();
  }

  /**
   * The index as fresh as the caller's search needs (see {@link Freshness}), or `undefined` when
   * LanceDB must answer:
   * the mirror is loading, turned off, failing to read the tables, or more than
   * {@link FAR_BEHIND_ROWS} rows behind a table (a large import: it catches up meanwhile, for later
   * searches). Otherwise the search waits while the mirror reads the commits it has not seen.
   */
  async current(freshness: Freshness): Promise<MemoryIndex | undefined> {
    if (this.#state !== 'ready' || this.#closed) return undefined;
    const arrived = this.#syncsStarted;
    if ('clock' in freshness) this.#hear(freshness.clock);
    const noteDeadline = performance.now() + NOTE_WAIT_MS;
    try {
      while (!this.#fresh(freshness, arrived)) {
        // The commit's note is most likely on its way: waiting for it costs less than a read.
        if ('clock' in freshness && this.#ticked && !this.#mustRead && performance.now() < noteDeadline) {
          await this.#noteApplied(noteDeadline);
          continue;
        }
        const sync = this.#catchUp();
        // A sync tells as soon as it has listed a table's rows whether it is far behind.
        if ((await Promise.race([sync.done, sync.farBehind])) === FAR_BEHIND) {
          sync.done.catch((error: unknown) => this.#options.onError?.(error));
          return undefined;
        }
        if (this.#state !== 'ready') return undefined;
      }
    } catch (error) {
      this.#options.onError?.(error);
      return undefined;
    }
    return this.#index;
  }

  /**
   * The sync in progress, or a new one: one at a time. It reads the tables at their latest
   * versions, so one sync also covers the searches that began while it ran.
   */
  #catchUp(): Sync {
    if (this.#syncing === undefined) {
      let markFarBehind = (): void => undefined;
      const farBehind = new Promise<typeof FAR_BEHIND>((resolve) => {
        markFarBehind = () => resolve(FAR_BEHIND);
      });
      const done = this.#sync(markFarBehind).finally(() => {
        this.#syncing = undefined;
        // The notes that came meanwhile, on top of what it read.
        this.#applyNotes();
      });
      this.#syncing = { done, farBehind };
    }
    return this.#syncing;
  }

  /**
   * Stops following. A sync in progress returns at its next step (it checks between reads), and
   * the tables close once it has: none is closed under a read still in flight.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#follower);
    await this.#syncing?.done.catch(() => undefined);
    for (const table of this.#handles.values()) table.close();
    this.#handles.clear();
    this.#index = undefined;
  }

  /** Whether the index holds what a search needs that arrived when `arrived` syncs had started. */
  #fresh(freshness: Freshness, arrived: number): boolean {
    if (this.#lastSynced > arrived) return true;
    if ('tables' in freshness) {
      for (const [name, version] of freshness.tables) {
        if ((this.#tables.get(name)?.version ?? -1) < version) return false;
      }
      return true;
    }
    const { epoch, count } = freshness.clock;
    return this.#clock !== undefined && this.#clock.epoch === epoch && count <= this.#clock.count;
  }

  /**
   * A tick of the commit clock, with its commit's note when it has one: applied to the index at
   * once when it is the next tick after what the index holds, so that searches need not wait for
   * a read of the tables. A sync reading the tables meanwhile may take rows from before the note's
   * commit (a deleted document's, put back), so the notes applied during a sync are applied again,
   * in order, after its rows: each sets its documents to exactly their new versions. A tick that
   * cannot be applied (one missed before it, another epoch, a commit too large to note) leaves the
   * next search, or the next follow, to read the tables.
   */
  tick(tick: ClockTick): void {
    if (this.#closed || this.#state === 'off') return;
    this.#ticked = true;
    this.#hear(tick);
    this.#notes.push(tick);
    if (this.#notes.length > MAX_WAITING_NOTES) {
      // The next read of the tables sees them all (they were counted before it starts).
      this.#notes = [];
      this.#mustRead = true;
    }
    this.#applyNotes();
  }

  /** Applies the notes waiting, in slices of {@link SLICE_MS} (unless it already is). */
  #applyNotes(): void {
    if (this.#applying !== undefined) {
      this.#applyAgain = true;
      return;
    }
    this.#applying = this.#applyInSlices().finally(() => {
      this.#applying = undefined;
      if (!this.#applyAgain) return;
      this.#applyAgain = false;
      this.#applyNotes();
    });
  }

  /**
   * The notes waiting, in order, a document at a time: after {@link SLICE_MS} the searches waiting
   * run before the next document. A document changes in one step (its new rows and the removal of
   * its other versions), so a search sees each document whole; it sees a commit whole once its
   * count is the index's (the clock moves once the whole note is in).
   */
  async #applyInSlices(): Promise<void> {
    const index = this.#index;
    if (this.#compacting || this.#state !== 'ready' || index === undefined) return;
    let applied = false;
    let sliceStarted = performance.now();
    while (this.#notes.length > 0 && !this.#compacting) {
      const tick = this.#notes[0] as ClockTick;
      const clock = this.#clock;
      if (clock?.epoch === tick.epoch && tick.count <= clock.count) {
        // Read already, with the tables.
        this.#notes.shift();
        continue;
      }
      if (clock === undefined || clock.epoch !== tick.epoch || tick.count !== clock.count + 1 || !tick.note) {
        this.#mustRead = true;
        break;
      }
      this.#notes.shift();
      const change = decodeChange(tick.note, rowKey, intern);
      // Noted before it is applied: a sync that ends meanwhile applies it whole after its rows.
      this.#appliedDuringSync?.push(change);
      for (const document of byDocument(change)) {
        applyChange(index, document);
        if (performance.now() - sliceStarted < SLICE_MS) continue;
        await yieldToEventLoop();
        sliceStarted = performance.now();
        if (this.#closed || this.#index !== index) return;
      }
      this.#clock = { epoch: tick.epoch, count: tick.count };
      applied = true;
      this.#options.onUpdate?.('note');
      // Searches waiting for this count run now, not after the notes behind it.
      for (const wake of [...this.#waiting]) wake();
    }
    if (index.size > this.#options.maxRows) {
      this.#turnOff(`the store holds ${index.size} chunks, more than ${this.#options.maxRows}`);
    } else if (applied) this.#reportSize();
    for (const wake of [...this.#waiting]) wake();
  }

  /** Resolves once the index has taken in a note or read the tables, or at `deadline`. */
  #noteApplied(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, deadline - performance.now()));
      this.#waiting.add(wake);
    });
  }

  /** Notes a search's clock reading; one of another epoch than the newest noted replaces it. */
  #hear(reading: ClockReading): void {
    const heard = this.#heard;
    if (heard === undefined || heard.epoch !== reading.epoch || heard.count < reading.count) {
      this.#heard = reading;
    }
  }

  /** One pass over both tables at their latest versions, main first; see the class comment. */
  async #sync(markFarBehind: () => void): Promise<void> {
    // Taken before the first read: every reading heard so far counts only commits this sync sees,
    // so the notes waiting are read with the tables.
    const started = { number: ++this.#syncsStarted, heard: this.#heard };
    this.#notes = [];
    this.#mustRead = false;
    this.#appliedDuringSync = [];
    try {
      await this.#read(started, markFarBehind);
    } finally {
      this.#appliedDuringSync = undefined;
    }
  }

  async #read(
    started: { number: number; heard: ClockReading | undefined },
    markFarBehind: () => void,
  ): Promise<void> {
    const left = new Set<string>();
    const next = new Map<string, TableRead>();
    this.#reading.clear();
    for (const name of CHUNK_TABLES) {
      const table = await this.#handle(name);
      if (table === undefined) continue;
      await table.checkoutLatest();
      const version = await table.version();
      const before = this.#tables.get(name);
      if (before?.version === version) {
        next.set(name, { ...before, left: [] });
        continue;
      }
      // Pinned, so the row ids listed are the ones taken.
      await table.checkout(version);
      const read = await this.#follow(table, before, markFarBehind, name === DELTA_TABLE);
      if (read === undefined) return;
      const size = read.rows.size + (read.extends?.rows.size ?? 0);
      if (size > this.#options.maxRows) {
        this.#turnOff(`the ${name} table holds ${size} chunks, more than ${this.#options.maxRows}`);
        return;
      }
      for (const key of read.left) left.add(key);
      next.set(name, { ...read, version });
    }
    const index = this.#index;
    if (this.#closed || index === undefined) {
      this.#commitState(next, started);
      return;
    }
    for (const key of left) {
      if ([...next.values()].some((read) => read.keys.has(key) || read.extends?.keys.has(key))) {
        continue;
      }
      index.remove(key, tenantOf(key));
    }
    // The notes applied meanwhile, again: rows read from before their commits are undone.
    for (const change of this.#appliedDuringSync ?? []) applyChange(index, change);
    if (index.size > this.#options.maxRows) {
      this.#turnOff(`the store holds ${index.size} chunks, more than ${this.#options.maxRows}`);
      return;
    }
    this.#commitState(next, started);
    // After the state is committed: searches of what this sync read need not wait for it.
    this.#compacting = true;
    try {
      // A note half applied is finished first (the rebuild copies the rows as they are).
      await this.#applying;
      for (const tenant of index.wasteful()) {
        await index.compact(tenant, yieldToEventLoop);
        if (this.#closed) return;
      }
    } finally {
      this.#compacting = false;
    }
  }

  /**
   * A table's rows at its pinned version, by row id. A row id names one row of one data file
   * (its fragment, then its place), data files never change (a delete marks rows, a compaction
   * writes new fragments), and fragment ids only grow. So the rows of fragments the mirror has
   * listed can only have been deleted since: when the table's live rows, less those of fragments
   * new to it, are as many as it listed before, none was, and only the new fragments need listing.
   * A version that built an index costs a count; one that appended, a count and a listing of what
   * it appended. Otherwise (a delete, a compaction) every row id is listed again, and only row ids
   * not seen before need their keys read. Only keys the index lacks need their rows.
   * In the table new chunks arrive in (the delta), a large growth is a large import: `markFarBehind`
   * is called at once. The main table's rows come from the delta, which the mirror has mostly read
   * already: it is far behind there only when many of the new rows' keys are missing from the index.
   * `undefined` when the mirror closed meanwhile.
   */
  async #follow(
    table: Table,
    before: TableState | undefined,
    markFarBehind: () => void,
    newChunksLand: boolean,
  ): Promise<Omit<TableRead, 'version'> | undefined> {
    const rows = new Map<number, string>();
    const keys = new Set<string>();
    let unseen: number[] = [];
    const left: string[] = [];
    let count = 0;
    let nextFragment = 0;
    const appended = before && (await this.#appendedOnly(table, before));
    // The state this read extends: its rows are all still there.
    const base = appended ? before : undefined;
    // From which fragment on the rows are new (0: all of them).
    const newFrom = base?.nextFragment ?? 0;
    if (appended) {
      unseen = appended.rowIds;
      count = appended.count;
      nextFragment = Math.max(newFrom, nextFragmentAfter(unseen));
    } else {
      for await (const batch of table.query().select([]).withRowId()) {
        for (const rowId of rowIdsOf(batch as unknown as ArrowBatch)) {
          count++;
          nextFragment = Math.max(nextFragment, fragmentOf(rowId) + 1);
          const key = before?.rows.get(rowId);
          if (key === undefined) {
            unseen.push(rowId);
          } else {
            rows.set(rowId, key);
            keys.add(key);
          }
        }
      }
      for (const [rowId, key] of before?.rows ?? []) if (!rows.has(rowId)) left.push(key);
    }
    const total = (base?.rows.size ?? 0) + rows.size + unseen.length;
    // A large import (many more rows than the mirror holds of this table, not a compaction's rows
    // under new ids, whose keys it has): the searches waiting are answered by LanceDB meanwhile.
    if (newChunksLand && total - (before?.rows.size ?? 0) > FAR_BEHIND_ROWS) markFarBehind();
    // Keys of the unseen rows, and which of them the index lacks: by a streamed scan when they are
    // much of the table (a first load, a compaction), else by takes. A first load reads every
    // column at once; otherwise the lacking rows are read after, by takes or, if many, a scan.
    const lacking = new Set<number>();
    const note = (rowId: number, key: string): void => {
      // Tombstones have a row id but no key: they are nobody's rows.
      if (key === '') return;
      rows.set(rowId, key);
      keys.add(key);
      if (!this.#index?.has(key)) lacking.add(rowId);
    };
    if (unseen.length > total * SCAN_SHARE) {
      const firstLoad = this.#index === undefined;
      const unseenIds = new Set(unseen);
      for await (const batch of rowsFrom(table, newFrom)
        .select(firstLoad ? ROW_COLUMNS : KEY_COLUMNS)
        .withRowId()) {
        const arrow = batch as unknown as ArrowBatch;
        const ids = rowIdsOf(arrow);
        keysOf(arrow).forEach((key, i) => {
          if (unseenIds.has(ids[i] as number)) note(ids[i] as number, key);
        });
        if (firstLoad) {
          await this.#add(chunksOf([arrow], (key) => !this.#index?.has(key)));
          lacking.clear();
        }
        if (this.#closed) return undefined;
        await yieldToEventLoop();
      }
    } else {
      for (let start = 0; start < unseen.length; start += TAKE_BATCH) {
        const taken = (await table
          .takeRowIds(unseen.slice(start, start + TAKE_BATCH))
          .withRowId()
          .select(KEY_COLUMNS)
          .toArrow()) as unknown as ArrowTable;
        for (const batch of taken.batches) {
          const ids = rowIdsOf(batch);
          keysOf(batch).forEach((key, i) => note(ids[i] as number, key));
        }
        if (this.#closed) return undefined;
      }
    }
    // Many rows no table held before, in the main table (which takes its rows from the delta): rows
    // the mirror did not read in the delta before they moved. As for a large import, LanceDB
    // answers while they are read.
    if (!newChunksLand && lacking.size > FAR_BEHIND_ROWS) markFarBehind();
    // A key both tables hold (a move in its grace) is read once: the first table's copy.
    const wanted = [...lacking].filter((rowId) => !this.#reading.has(rows.get(rowId) as string));
    for (const rowId of wanted) this.#reading.add(rows.get(rowId) as string);
    // Rows go into the index as they arrive: a search meanwhile sees committed rows either way,
    // and rows that left the tables are removed only once every table has been read.
    if (wanted.length > total * SCAN_SHARE) {
      const wantedIds = new Set(wanted);
      for await (const batch of rowsFrom(table, newFrom).select(ROW_COLUMNS).withRowId()) {
        const arrow = batch as unknown as ArrowBatch;
        const ids = rowIdsOf(arrow);
        await this.#add(chunksOf([arrow], (_key, i) => wantedIds.has(ids[i] as number)));
        if (this.#closed) return undefined;
        await yieldToEventLoop();
      }
    } else {
      for (let start = 0; start < wanted.length; start += TAKE_BATCH) {
        const taken = (await table
          .takeRowIds(wanted.slice(start, start + TAKE_BATCH))
          .select(ROW_COLUMNS)
          .toArrow()) as unknown as ArrowTable;
        await this.#add(chunksOf(taken.batches));
        if (this.#closed) return undefined;
      }
    }
    return { rows, keys, count, nextFragment, left, ...(base ? { extends: base } : {}) };
  }

  /**
   * When the table's rows, at its pinned version, are those of `before` plus rows in fragments new
   * since (see {@link #follow}): those rows' ids, and the table's count of live rows. Else
   * `undefined`: some listed row was deleted, or its fragment compacted away.
   */
  async #appendedOnly(
    table: Table,
    before: TableState,
  ): Promise<{ rowIds: number[]; count: number } | undefined> {
    const count = await table.countRows();
    const rowIds: number[] = [];
    for await (const batch of rowsFrom(table, before.nextFragment).select([]).withRowId()) {
      for (const rowId of rowIdsOf(batch as unknown as ArrowBatch)) rowIds.push(rowId);
    }
    return count - rowIds.length === before.count ? { rowIds, count } : undefined;
  }

  /**
   * Indexes rows a few milliseconds at a time: a first load or a large catch-up is seconds of work,
   * and the searches that need only what is already indexed must not wait behind it.
   */
  async #add(chunks: Iterable<IndexedChunk>): Promise<void> {
    let sliceStarted = performance.now();
    for (const chunk of chunks) {
      this.#index ??= new MemoryIndex(chunk.vector.length);
      this.#index.add(chunk);
      if (performance.now() - sliceStarted > SLICE_MS) {
        await yieldToEventLoop();
        if (this.#closed) return;
        sliceStarted = performance.now();
      }
    }
  }

  #commitState(
    next: Map<string, TableRead>,
    sync: { number: number; heard: ClockReading | undefined },
  ): void {
    for (const [name, read] of next) this.#tables.set(name, settle(read));
    this.#lastSynced = sync.number;
    this.#tablesReadAt = Date.now();
    // Notes applied meanwhile may have taken the index past what the sync heard of.
    const { heard } = sync;
    const clock = this.#clock;
    if (heard !== undefined && (clock?.epoch !== heard.epoch || heard.count > clock.count)) {
      this.#clock = heard;
    }
    this.#reportSize();
    this.#options.onUpdate?.('tables');
  }

  #reportSize(): void {
    const size = this.#index?.size ?? 0;
    if (size !== this.#reportedSize) this.#options.onSize?.(size);
    this.#reportedSize = size;
  }

  #turnOff(reason: string): void {
    this.#state = 'off';
    this.#index = undefined;
    this.#tables.clear();
    this.#notes = [];
    this.#options.onOff?.(reason);
    this.#options.onSize?.(0);
    this.#reportedSize = 0;
  }

  /** The mirror's own handle on a table (it pins versions, which the store's handles must not). */
  async #handle(name: string): Promise<Table | undefined> {
    const cached = this.#handles.get(name);
    if (cached) return cached;
    if (!(await this.#db.tableNames()).includes(name)) return undefined;
    let table: Table;
    try {
      table = await this.#db.openTable(name);
    } catch (error) {
      // Listed but not openable: the writer is creating it (the first move into the main table).
      if (isMissingDataset(error)) return undefined;
      throw error;
    }
    const dimension = vectorDimension(await table.schema());
    if (dimension === undefined) return undefined;
    this.#handles.set(name, table);
    return table;
  }
}

/**
 * The table's state after a read: the read's rows added to the state it extends (whose maps it
 * takes over; that state is replaced by this one as the sync commits).
 */
function settle({ extends: base, left: _left, ...read }: TableRead): TableState {
  if (base === undefined) return read;
  for (const [rowId, key] of read.rows) base.rows.set(rowId, key);
  for (const key of read.keys) base.keys.add(key);
  return { ...read, rows: base.rows, keys: base.keys };
}

/** The rows of the fragments from `fragment` on (all of them from 0), to be read by a scan. */
function rowsFrom(table: Table, fragment: number) {
  const query = table.query();
  return fragment === 0 ? query : query.where(`_rowid >= ${fragment * FRAGMENT_SPAN}`);
}

/** A row id is its fragment's id times this, plus its place in the fragment. */
const FRAGMENT_SPAN = 2 ** 32;

function fragmentOf(rowId: number): number {
  return Math.floor(rowId / FRAGMENT_SPAN);
}

/** One past the highest fragment id of these rows (0 for none). */
function nextFragmentAfter(rowIds: readonly number[]): number {
  let next = 0;
  for (const rowId of rowIds) next = Math.max(next, fragmentOf(rowId) + 1);
  return next;
}

/** A batch's row ids (LanceDB's `_rowid`, a fragment and an offset; well below 2^53). */
function rowIdsOf(batch: ArrowBatch): number[] {
  const column = batch.getChild('_rowid') as Column;
  return Array.from({ length: batch.numRows }, (_, i) => Number(column.get(i) as bigint));
}

/** A batch's row keys; '' for a tombstone. */
function keysOf(batch: ArrowBatch): string[] {
  const tenants = batch.getChild('tenant') as Column;
  const collections = batch.getChild('collection') as Column;
  const chunkIds = batch.getChild('chunk_id') as Column;
  return Array.from({ length: batch.numRows }, (_, i) => {
    const tenant = tenants.get(i) as string;
    return tenant === TOMBSTONE_TENANT
      ? ''
      : rowKey(tenant, collections.get(i) as string, chunkIds.get(i) as string);
  });
}

/** A note's change split by document, in the note's order. */
function byDocument(change: CommitChange): CommitChange[] {
  const rows = new Map<string, IndexedChunk[]>();
  for (const chunk of change.rows) {
    const key = documentKey(chunk.tenant, chunk.collection, chunk.documentId);
    const list = rows.get(key) ?? [];
    list.push(chunk);
    rows.set(key, list);
  }
  return change.documents.map((document) => ({
    rows: rows.get(documentKey(document.tenant, document.collection, document.documentId)) ?? [],
    documents: [document],
  }));
}

/** A commit's note applied: its rows added, its documents' other versions' rows removed. */
function applyChange(index: MemoryIndex, change: CommitChange): void {
  for (const chunk of change.rows) index.add(chunk);
  for (const { tenant, collection, documentId, version } of change.documents) {
    index.removeDocument(tenant, collection, documentId, version);
  }
}

/** Lets other work run between batches of a long sync. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function rowKey(tenant: string, collection: string, chunkId: string): string {
  return `${tenant}\u001f${collection}\u001f${chunkId}`;
}

function tenantOf(key: string): string {
  return key.slice(0, key.indexOf('\u001f'));
}

/** The rows as chunks, decoded one at a time (tombstones left out); with `keep`, just the rows it keeps. */
function* chunksOf(
  batches: readonly ArrowBatch[],
  keep?: (key: string, row: number) => boolean,
): Generator<IndexedChunk> {
  // Batch by batch: a batch's vectors are one Float32Array, each row's a view into it.
  for (const batch of batches) {
    const column = (name: string): Column => {
      const found = batch.getChild(name);
      // `page` is missing from tables an older Hopper wrote.
      return found ?? { get: () => null };
    };
    const tenants = column('tenant');
    const collections = column('collection');
    const documentIds = column('document_id');
    const chunkIds = column('chunk_id');
    const versions = column('version');
    const models = column('model');
    const texts = column('text');
    const headings = column('heading_path');
    const starts = column('start_offset');
    const ends = column('end_offset');
    const pages = column('page');
    const metadata = column('metadata');
    const metaKv = column('meta_kv');
    const searchTexts = column('search_text');
    const vectors = batch.getChild('vector')?.data[0]?.children[0]?.values;
    const dimension = vectors === undefined ? 0 : vectors.length / batch.numRows;
    for (let i = 0; i < batch.numRows; i++) {
      const tenant = intern(tenants.get(i) as string);
      if (tenant === TOMBSTONE_TENANT) continue;
      const collection = intern(collections.get(i) as string);
      const chunkId = chunkIds.get(i) as string;
      const key = rowKey(tenant, collection, chunkId);
      if (keep !== undefined && !keep(key, i)) continue;
      const page = pages.get(i);
      const text = texts.get(i) as string;
      yield {
        key,
        tenant,
        collection,
        documentId: documentIds.get(i) as string,
        chunkId,
        version: versions.get(i) as number,
        model: intern(models.get(i) as string),
        text,
        headingPath: listOf(headings.get(i)),
        start: starts.get(i) as number,
        end: ends.get(i) as number,
        ...(typeof page === 'number' ? { page } : {}),
        metadata: parseMetadata(metadata.get(i) as string),
        metaKv: listOf(metaKv.get(i)),
        vector: (vectors as Float32Array).subarray(i * dimension, (i + 1) * dimension),
        searchText: (searchTexts.get(i) as string | null) ?? text,
      };
    }
  }
}

/**
 * One copy of each tenant, collection and model name: each row decodes its own, and 100k rows of
 * the same few names would hold 100k copies.
 */
const NAMES = new Map<string, string>();
const MAX_NAMES = 10_000;

function intern(name: string): string {
  const known = NAMES.get(name);
  if (known !== undefined) return known;
  if (NAMES.size >= MAX_NAMES) NAMES.clear();
  NAMES.set(name, name);
  return name;
}

function listOf(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  const list = value as { toArray(): unknown[] };
  return [...list.toArray()].map(String);
}
