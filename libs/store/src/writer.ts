import { randomUUID } from 'node:crypto';
import type { Connection, Table } from '@lancedb/lancedb';
import type { Table as ArrowTable } from 'apache-arrow';
import { encodeChange } from './change-notes.ts';
import type { CommitClock } from './commit-clock.ts';
import { GroupCommit, type DocumentLocks } from './group-commit.ts';
import { documentKey, slotKey } from './keys.ts';
import type { DocumentListing } from './listing.ts';
import { metadataEntries } from './metadata.ts';
import type { DocumentRecordCopies } from './record-copies.ts';
import { documentToRow, recordsByKey } from './rows.ts';
import {
  ADDED_CHUNK_COLUMNS,
  ADDED_DOCUMENT_COLUMNS,
  CHUNKS_TABLE,
  CHUNK_KEY_COLUMN,
  DELTA_TABLE,
  DOCUMENTS_TABLE,
  DOCUMENT_KEY_COLUMN,
  chunksSchema,
  documentsSchema,
  tableDimension,
} from './schema.ts';
import { scopeWhere, sqlAnd, sqlString } from './sql.ts';
import { StoreError, guard } from './store-error.ts';
import type { TableHandles } from './tables.ts';
import type { ChunkInput, DocumentInput, DocumentRecord, ListedDocument } from './types.ts';

/**
 * A chunk position no version uses any more. A replacement with fewer chunks than its predecessor
 * overwrites the positions it no longer needs with these, in the same commit as its own chunks:
 * readers see the old set or the new one, never a mix. Their tenant is empty, which no real tenant
 * is, so every read (all are scoped by tenant) skips them; maintenance deletes them.
 */
export const TOMBSTONE_TENANT = '';

export interface WriterOptions {
  locks?: DocumentLocks;
  /** The ordered index `listDocuments` reads: each committed document is added to it. */
  listing?: DocumentListing;
  /** Copies of the committed records that readers serve reads by key from: marked, then published. */
  copies?: DocumentRecordCopies;
  /**
   * Ticked after every group whose documents are stored (committed now, or by an earlier attempt)
   * and after an undo, before the writes resolve: searches then know the mirror must read it.
   */
  clock?: CommitClock;
  /** Bounds of one group commit: documents, and chunk rows. */
  maxBatchDocuments: number;
  maxBatchRows: number;
  /** Runs commits one after another with the store's other writes and its maintenance. */
  serialize: <T>(run: () => Promise<T>) => Promise<T>;
  /** Runs after every commit, before its writes resolve, with the rows it wrote. */
  onCommitted: (rows: number) => Promise<void>;
  /** Told of every group commit that wrote something: documents, chunk rows, milliseconds. */
  onCommit?: (stats: CommitStats) => void;
}

/** What one group commit wrote. */
export interface CommitStats {
  documents: number;
  rows: number;
  ms: number;
}

interface Write {
  doc: DocumentInput;
  chunks: ChunkInput[];
  dimension: number;
  /** Nothing to write when the stored version has the same content hash and model. */
  unlessStored: boolean;
}

/**
 * The store's write side: new document versions, committed in groups. One group is two commits,
 * whatever its size: the chunks of every document into the delta table (new positions upserted,
 * unused ones tombstoned), then their records; a group that replaces documents whose earlier
 * versions were moved to the main table also deletes those there, between the two. New documents
 * (most of an import) are appended, which costs the same at any table size; replacements are
 * upserted, keyed on a single indexed column, so their cost follows the group, not the table.
 * A group of both kinds takes one more commit per table.
 */
export class DocumentWriter {
  readonly #db: Connection;
  readonly #tables: TableHandles;
  readonly #options: WriterOptions;
  readonly #group: GroupCommit<Write, DocumentRecord>;
  /** The embedding model each collection was last seen to hold, so most groups skip the check. */
  readonly #collectionModels = new Map<string, string>();
  #migrated = false;
  #dimension: number | undefined;

  constructor(db: Connection, tables: TableHandles, options: WriterOptions) {
    this.#db = db;
    this.#tables = tables;
    this.#options = options;
    this.#group = new GroupCommit<Write, DocumentRecord>({
      commit: (writes) => options.serialize(() => this.#commit(writes)),
      maxWrites: options.maxBatchDocuments,
      maxWeight: options.maxBatchRows,
      ...(options.locks ? { locks: options.locks } : {}),
    });
  }

  write(
    doc: DocumentInput,
    chunks: ChunkInput[],
    dimension: number,
    unlessStored: boolean,
  ): Promise<DocumentRecord> {
    const key = documentKey(doc.tenant, doc.collection, doc.documentId);
    return this.#group.submit(key, chunks.length, { doc, chunks, dimension, unlessStored });
  }

  /** Resolves once every queued write has been committed (or failed). */
  idle(): Promise<void> {
    return this.#group.idle();
  }

  async #commit(writes: Write[]): Promise<(DocumentRecord | Error)[]> {
    const started = performance.now();
    return guard('write', async () => {
      const first = writes[0] as Write;
      // The main table, when a store has one, fixes the vector length: the delta is made to match.
      const main = await this.#tables.get(CHUNKS_TABLE);
      const documents = await this.#tables.getOrCreate(DOCUMENTS_TABLE, documentsSchema());
      if (main) await this.#migrate(main, documents);
      const fixed = main ? await this.#tableDimension(main) : first.dimension;
      const chunkTable = await this.#tables.getOrCreate(DELTA_TABLE, chunksSchema(fixed));
      const stored = main ? fixed : await this.#tableDimension(chunkTable);
      const outcomes: (DocumentRecord | Error | undefined)[] = writes.map((write) =>
        write.dimension === stored ? undefined : dimensionMismatch(write, stored),
      );
      await this.#checkModels(main ? [main, chunkTable] : [chunkTable], writes, outcomes);
      const valid = writes.flatMap((write, i) => (outcomes[i] === undefined ? [i] : []));
      if (valid.length === 0) return outcomes as (DocumentRecord | Error)[];

      // Marked before anything is read: until the publish below, these documents are read from the
      // table. A group that fails leaves its marks (the copies may no longer be what is stored).
      const copies = this.#options.copies;
      const token = randomUUID();
      await copies?.mark(
        valid.map((i) => listedOf((writes[i] as Write).doc)),
        token,
      );
      /** The records this group leaves stored (new versions, and unchanged ones) become the copies. */
      const publish = async () => {
        const stored = outcomes.filter(
          (outcome): outcome is DocumentRecord => outcome !== undefined && !(outcome instanceof Error),
        );
        await copies?.publish(stored, token).catch(() => undefined);
      };

      // Read after this writer holds the documents' locks: the versions are the latest. The rows
      // at the positions the new versions take are read beside them (see `occupied` below).
      const slots = new Map(
        valid.map((i) => {
          const { doc, chunks } = writes[i] as Write;
          return [i, chunks.map((_, index) => slotKey(doc.tenant, doc.collection, doc.documentId, index))];
        }),
      );
      const [previous, occupied] = await Promise.all([
        recordsByKey(
          documents,
          valid.map((i) => {
            const { doc } = writes[i] as Write;
            return documentKey(doc.tenant, doc.collection, doc.documentId);
          }),
        ),
        occupiedSlots(chunkTable, [...slots.values()].flat()),
      ]);
      const live = valid.filter((i) => {
        const { doc, unlessStored } = writes[i] as Write;
        const before = previous.get(documentKey(doc.tenant, doc.collection, doc.documentId));
        if (!unlessStored || before?.contentHash !== doc.contentHash || before.model !== doc.model)
          return true;
        outcomes[i] = before;
        return false;
      });
      if (live.length === 0) {
        // Stored by an earlier attempt, which may have stopped before its tick.
        await Promise.all([publish(), this.#options.clock?.tick()]);
        return outcomes as (DocumentRecord | Error)[];
      }
      const now = new Date().toISOString();
      // A document with no record and no rows at its positions is new: its rows and its record
      // are appended, which costs a commit whatever the table's size. The rest are upserted by
      // key. Rows at a new document's positions are an earlier attempt's, cut short between its two
      // commits (or put back by an undo): those documents are upserted, so no key is ever doubled.
      const rows: Record<string, unknown>[] = [];
      const appended: Record<string, unknown>[] = [];
      /** The rows of the new versions (not the tombstones), for the commit's note. */
      const written: Record<string, unknown>[] = [];
      const records = new Map<number, DocumentRecord>();
      const newRecords = new Set<number>();
      for (const i of live) {
        const { doc, chunks } = writes[i] as Write;
        const before = previous.get(documentKey(doc.tenant, doc.collection, doc.documentId));
        const isNew = before === undefined && !slots.get(i)!.some((slot) => occupied.has(slot));
        const record: DocumentRecord = {
          tenant: doc.tenant,
          collection: doc.collection,
          documentId: doc.documentId,
          title: doc.title,
          mediaType: doc.mediaType,
          contentHash: doc.contentHash,
          metadata: { ...doc.metadata },
          model: doc.model,
          version: (before?.version ?? 0) + 1,
          chunks: chunks.length,
          createdAt: before?.createdAt ?? now,
          updatedAt: now,
        };
        records.set(i, record);
        if (before === undefined) newRecords.add(i);
        const versionRows = chunkRows(record, chunks);
        written.push(...versionRows);
        if (isNew) {
          appended.push(...versionRows);
          continue;
        }
        rows.push(...versionRows);
        for (let index = chunks.length; index < (before?.chunks ?? 0); index++) {
          rows.push(tombstone(doc, index, stored, record.version));
        }
      }

      // Listed before the commit (a crash after it leaves nothing unlisted; a failed commit leaves
      // a key readers skip) and again after it (a listing rebuilt meanwhile, after Redis lost it,
      // may have read the table before this commit). A listing that cannot be written fails the
      // group before anything is stored.
      const listed = live.map((i) => listedOf((writes[i] as Write).doc));
      await this.#options.listing?.add(listed);
      // Nothing of the group is stored when it fails from here on: the keys of its new documents
      // are stale, and a writer prunes them (see DocumentListing).
      const unlisted = () => this.#options.listing?.suspect(listed).catch(() => undefined);

      // Chunks first, then the records: after a crash in between, a retry computes the same
      // version and the same positions and overwrites them. The new chunks are in the delta before
      // the previous version leaves the main table: a search reads the main table first, so it
      // finds one version or the other (both, for a moment, is resolved by the reader).
      const chunksBefore = await chunkTable.version();
      const mainBefore = main ? await main.version() : undefined;
      try {
        if (appended.length > 0) await chunkTable.add(appended);
        if (rows.length > 0) await upsert(chunkTable, CHUNK_KEY_COLUMN, rows);
        if (main)
          await deleteEarlierVersions(
            main,
            live.map((i) => records.get(i) as DocumentRecord),
            previous,
          );
      } catch (error) {
        if (main && mainBefore !== undefined && (await main.version()) !== mainBefore) {
          // The delta holds the new chunks and the main table lost the old ones: put both back.
          const undone = await this.#undo(
            [
              { table: chunkTable, version: chunksBefore, name: DELTA_TABLE },
              { table: main, version: mainBefore, name: CHUNKS_TABLE },
            ],
            live.map((i) => ({ write: writes[i] as Write, before: previous })),
            stored,
            error,
          );
          for (const i of live) outcomes[i] = undone((writes[i] as Write).doc.documentId);
          await unlisted();
          return outcomes as (DocumentRecord | Error)[];
        }
        if ((await chunkTable.version()) !== chunksBefore) {
          const undone = await this.#undo(
            [{ table: chunkTable, version: chunksBefore, name: DELTA_TABLE }],
            live.map((i) => ({ write: writes[i] as Write, before: previous })),
            stored,
            error,
          );
          for (const i of live) outcomes[i] = undone((writes[i] as Write).doc.documentId);
          await unlisted();
          return outcomes as (DocumentRecord | Error)[];
        }
        for (const i of live) outcomes[i] = previousVersionKept((writes[i] as Write).doc.documentId, error);
        await unlisted();
        return outcomes as (DocumentRecord | Error)[];
      }
      try {
        // A record is new when the read under this writer's locks found none: appended.
        const row = (i: number) => documentToRow(records.get(i) as DocumentRecord);
        const added = live.filter((i) => newRecords.has(i));
        const replaced = live.filter((i) => !newRecords.has(i));
        if (added.length > 0) await documents.add(added.map(row));
        if (replaced.length > 0) await upsert(documents, DOCUMENT_KEY_COLUMN, replaced.map(row));
      } catch (error) {
        // The new chunks are committed but the records still name the previous versions: searches
        // would return chunks of versions that never were. Put the previous chunks back.
        const undone = await this.#undo(
          [
            { table: chunkTable, version: chunksBefore, name: DELTA_TABLE },
            ...(main && mainBefore !== undefined
              ? [{ table: main, version: mainBefore, name: CHUNKS_TABLE }]
              : []),
          ],
          live.map((i) => ({ write: writes[i] as Write, before: previous })),
          stored,
          error,
        );
        for (const i of live) outcomes[i] = undone((writes[i] as Write).doc.documentId);
        await unlisted();
        return outcomes as (DocumentRecord | Error)[];
      }
      for (const i of live) {
        const record = records.get(i) as DocumentRecord;
        this.#collectionModels.set(documentKey(record.tenant, record.collection, ''), record.model);
        outcomes[i] = record;
      }
      // Best effort: the add before the commit already listed them, unless a rebuild raced it. A
      // copy not published keeps its mark, so the table is read instead. The tick is not: a write
      // that returned without it could be missed by a search that began after it (the group fails,
      // and its retries find their versions stored and tick again).
      await Promise.all([
        this.#options.listing?.add(listed).catch(() => undefined),
        publish(),
        this.#options.clock?.tick(
          encodeChange(
            written,
            live.map((i) => {
              const { tenant, collection, documentId, version } = records.get(i) as DocumentRecord;
              return { tenant, collection, documentId, version };
            }),
          ),
        ),
      ]);
      this.#options.onCommit?.({
        documents: live.length,
        rows: rows.length + appended.length,
        ms: performance.now() - started,
      });
      await this.#options.onCommitted(rows.length + appended.length);
      return outcomes as (DocumentRecord | Error)[];
    });
  }

  /**
   * Refuses a second embedding model in a collection, for each write (the documents being replaced
   * are excluded, so a collection's only document can be re-embedded with a new model). The store
   * is asked only when a collection's model is not the one this writer last saw there.
   */
  async #checkModels(
    tables: Table[],
    writes: Write[],
    outcomes: (DocumentRecord | Error | undefined)[],
  ): Promise<void> {
    const groups = new Map<string, number[]>();
    writes.forEach((write, i) => {
      if (outcomes[i] !== undefined) return;
      const collectionKey = documentKey(write.doc.tenant, write.doc.collection, '');
      groups.set(collectionKey, [...(groups.get(collectionKey) ?? []), i]);
    });
    for (const [collectionKey, members] of groups) {
      // Within the group, the first write's model is the group's; others conflict with it.
      const model = (writes[members[0] as number] as Write).doc.model;
      for (const i of members) {
        const doc = (writes[i] as Write).doc;
        if (doc.model !== model) outcomes[i] = modelMismatch(doc, model);
      }
      if (this.#collectionModels.get(collectionKey) === model) continue;
      const doc = (writes[members[0] as number] as Write).doc;
      const ids = members.map((i) => sqlString((writes[i] as Write).doc.documentId));
      const where = sqlAnd(
        scopeWhere(doc.tenant, doc.collection),
        `model <> ${sqlString(model)}`,
        `document_id NOT IN (${ids.join(', ')})`,
      );
      let other: string | undefined;
      for (const table of tables) {
        other ??= firstModel(await table.query().where(where).select(['model']).limit(1).toArray());
      }
      if (other === undefined) continue;
      for (const i of members) {
        if (outcomes[i] === undefined) outcomes[i] = modelMismatch((writes[i] as Write).doc, other);
      }
    }
  }

  /**
   * Puts the documents' chunks back as they were at the given versions of the chunk tables,
   * touching their positions only: other writers may have committed other documents since, so
   * restoring a whole table would throw their writes away. In the delta, every position the failed
   * versions wrote is tombstoned first (version 0, so a later move never lets it overwrite a live
   * row), then the rows it held before are put back. Returns the error to report for each document.
   */
  async #undo(
    tables: { table: Table; version: number; name: string }[],
    writes: { write: Write; before: Map<string, DocumentRecord> }[],
    dimension: number,
    cause: unknown,
  ): Promise<(documentId: string) => StoreError> {
    try {
      const scope = writes
        .map(({ write: { doc } }) => `(${scopeWhere(doc.tenant, doc.collection, doc.documentId)})`)
        .join(' OR ');
      for (const { table, version, name } of tables) {
        if (name === DELTA_TABLE) {
          const written: Record<string, unknown>[] = [];
          for (const { write, before } of writes) {
            const { doc, chunks } = write;
            const had = before.get(documentKey(doc.tenant, doc.collection, doc.documentId))?.chunks ?? 0;
            for (let index = 0; index < Math.max(had, chunks.length); index++) {
              written.push(tombstone(doc, index, dimension, 0));
            }
          }
          if (written.length > 0) await upsert(table, CHUNK_KEY_COLUMN, written);
        }
        const previous = await this.#chunksAt(name, version, scope);
        if (previous.numRows > 0) await upsert(table, CHUNK_KEY_COLUMN, previous);
      }
    } catch (undoError) {
      await this.#options.clock?.tick().catch(() => undefined);
      return (documentId) =>
        new StoreError(
          'unavailable',
          `Document store write failed, and the unfinished version of "${documentId}" could not be ` +
            'removed: searches may return its chunks until the document is written again',
          { cause: new AggregateError([cause, undoError]) },
        );
    }
    // A mirror may have read the rows just undone: its next search must read the tables again.
    await this.#options.clock?.tick().catch(() => undefined);
    return (documentId) => previousVersionKept(documentId, cause);
  }

  /** The rows matching `where` as they were at `version` of a chunk table (time travel). */
  async #chunksAt(name: string, version: number, where: string): Promise<ArrowTable> {
    // A handle of its own: checking out an old version on the shared one would pin it there.
    const table = await this.#db.openTable(name);
    try {
      await table.checkout(version);
      return await table.query().where(where).toArrow();
    } finally {
      table.close();
    }
  }

  /** Fixed by the table's first write, so read once. */
  async #tableDimension(table: Table): Promise<number> {
    this.#dimension ??= await tableDimension(table);
    return this.#dimension;
  }

  /**
   * Adds the columns tables written by an older Hopper lack, filling them for the rows already
   * there, before the first write that needs them.
   */
  async #migrate(chunks: Table, documents: Table): Promise<void> {
    if (this.#migrated) return;
    for (const [table, added] of [
      [chunks, ADDED_CHUNK_COLUMNS],
      [documents, ADDED_DOCUMENT_COLUMNS],
    ] as const) {
      const present = new Set((await table.schema()).fields.map((field) => field.name));
      const missing = added.filter((column) => !present.has(column.name));
      if (missing.length > 0) await table.addColumns([...missing]);
    }
    this.#migrated = true;
  }
}

/**
 * Removes from the main table the chunks of versions these records replace: every position the
 * previous version had (its rows are in the main table if a move took them there, else in the delta,
 * where the new rows have just overwritten them). One delete, by key, for the whole group.
 */
async function deleteEarlierVersions(
  main: Table,
  records: DocumentRecord[],
  previous: Map<string, DocumentRecord>,
): Promise<void> {
  const slots: string[] = [];
  for (const record of records) {
    const before = previous.get(documentKey(record.tenant, record.collection, record.documentId));
    for (let index = 0; index < (before?.chunks ?? 0); index++) {
      slots.push(sqlString(slotKey(record.tenant, record.collection, record.documentId, index)));
    }
  }
  // Versions are written one at a time per document (its lock), so the main table holds none
  // newer than the one being written: every row at these positions is an earlier version.
  if (slots.length > 0) await main.delete(`${CHUNK_KEY_COLUMN} IN (${slots.join(', ')})`);
}

/** Which of `slots` hold a row in `table`: one lookup on the key index. */
async function occupiedSlots(table: Table, slots: string[]): Promise<Set<string>> {
  const occupied = new Set<string>();
  if (slots.length === 0) return occupied;
  const rows: unknown[] = await table
    .query()
    .where(`${CHUNK_KEY_COLUMN} IN (${slots.map(sqlString).join(', ')})`)
    .select([CHUNK_KEY_COLUMN])
    .toArray();
  for (const row of rows) occupied.add(String((row as Record<string, unknown>)[CHUNK_KEY_COLUMN]));
  return occupied;
}

/** Inserts rows whose key is new and replaces those whose key exists, in one commit. */
async function upsert(
  table: Table,
  key: string,
  rows: Record<string, unknown>[] | ArrowTable,
): Promise<void> {
  await table.mergeInsert(key).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
}

function chunkRows(record: DocumentRecord, chunks: ChunkInput[]): Record<string, unknown>[] {
  const metadata = JSON.stringify(record.metadata);
  const metaKv = metadataEntries(record.metadata);
  return chunks.map((chunk, index) => ({
    tenant: record.tenant,
    collection: record.collection,
    document_id: record.documentId,
    chunk_id: `${record.documentId}:${record.version}:${index}`,
    version: record.version,
    chunk_index: index,
    text: chunk.text,
    heading_path: chunk.headingPath,
    start_offset: chunk.start,
    end_offset: chunk.end,
    model: record.model,
    metadata,
    meta_kv: metaKv,
    vector: chunk.vector,
    page: chunk.page ?? null,
    search_text: chunk.searchText ?? chunk.text,
    slot: slotKey(record.tenant, record.collection, record.documentId, index),
  }));
}

/**
 * A tombstone for a document's `index`-th position (see {@link TOMBSTONE_TENANT}), carrying the
 * version that gave the position up: moved into the main table, it overwrites only older rows.
 */
function tombstone(
  doc: DocumentInput,
  index: number,
  dimension: number,
  version: number,
): Record<string, unknown> {
  const slot = slotKey(doc.tenant, doc.collection, doc.documentId, index);
  // Not the zero vector: cosine distance to it is undefined, which index training does not like.
  const vector = new Float32Array(dimension);
  vector[0] = 1;
  return {
    tenant: TOMBSTONE_TENANT,
    collection: '',
    document_id: '',
    chunk_id: slot,
    version,
    chunk_index: index,
    text: '',
    heading_path: [],
    start_offset: 0,
    end_offset: 0,
    model: '',
    metadata: '{}',
    meta_kv: [],
    vector,
    page: null,
    search_text: '',
    slot,
  };
}

/** A write that failed without changing what readers see. */
export function previousVersionKept(documentId: string, cause: unknown): StoreError {
  return new StoreError(
    'unavailable',
    `Document store write failed; the previous version of "${documentId}" is unchanged`,
    { cause },
  );
}

function dimensionMismatch(write: Write, stored: number): StoreError {
  return new StoreError(
    'dimension_mismatch',
    `Document "${write.doc.documentId}" has ${write.dimension}-dimensional vectors but this store holds ` +
      `${stored}-dimensional vectors (model "${write.doc.model}")`,
  );
}

function modelMismatch(doc: DocumentInput, other: string): StoreError {
  return new StoreError(
    'model_mismatch',
    `Collection "${doc.collection}" holds vectors from embedding model "${other}"; document ` +
      `"${doc.documentId}" was embedded with "${doc.model}". Use one model per collection: ` +
      `re-embed with "${other}" or write to another collection.`,
  );
}

export function firstModel(rows: unknown[]): string | undefined {
  const row = rows[0];
  if (typeof row !== 'object' || row === null) return undefined;
  const model = (row as Record<string, unknown>)['model'];
  return typeof model === 'string' ? model : undefined;
}

function listedOf(doc: DocumentInput): ListedDocument {
  return { tenant: doc.tenant, collection: doc.collection, documentId: doc.documentId };
}
