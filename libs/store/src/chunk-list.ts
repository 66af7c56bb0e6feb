import type { Table } from '@lancedb/lancedb';
import { slotKey } from './keys.ts';
import { CHUNK_COLUMNS, chunkFromRow } from './rows.ts';
import { CHUNK_KEY_COLUMN, CHUNK_TABLES } from './schema.ts';
import { scopeWhere, sqlAnd, sqlString } from './sql.ts';
import { StoreError } from './store-error.ts';
import type { TableHandles } from './tables.ts';
import type { ChunkPage, ChunkRecord, DocumentRecord, ListChunksOptions } from './types.ts';

/**
 * How long a read waits for a replacement caught between its commits (the new chunks written, the
 * document's record not yet): each wait doubles, ~1.6 s in all. A commit takes milliseconds to
 * tens of milliseconds; the bound only matters for a store a failed write left inconsistent.
 */
const FIRST_RETRY_MS = 25;
const ATTEMPTS = 7;

/** Where the next page of a document's chunks starts: after `index`, in `version`. */
interface ChunkPosition {
  version: number;
  index: number;
}

function encodeChunkCursor(position: ChunkPosition): string {
  return Buffer.from(JSON.stringify(['chunks', position.version, position.index]), 'utf8').toString(
    'base64url',
  );
}

function decodeChunkCursor(cursor: string): ChunkPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new StoreError('invalid_cursor', 'The cursor is not one returned by listChunks', { cause: error });
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    parsed[0] !== 'chunks' ||
    !Number.isInteger(parsed[1]) ||
    !Number.isInteger(parsed[2]) ||
    (parsed[1] as number) < 1 ||
    (parsed[2] as number) < 0
  ) {
    throw new StoreError('invalid_cursor', 'The cursor is not one returned by listChunks');
  }
  return { version: parsed[1] as number, index: parsed[2] as number };
}

/**
 * A document's current chunks in order, one page at a time (read-only). Chunks live in two tables
 * (see schema.ts): the main table and the delta, and while a move runs one chunk is in both. So
 * both are read, main first (the order searches use: a move writes the main table before it
 * deletes from the delta, so this order never misses a row), only rows of the version the
 * documents table names are kept, and each position once.
 *
 * The record and the chunks are two reads. A replacement that commits in between (its chunks
 * written and the previous ones removed, its record not yet) leaves positions of the recorded
 * version missing: the read is tried again, the record first, until the page is whole. A cursor
 * belongs to one version: once the document is replaced it is refused, since the chunks it pointed
 * into are gone.
 *
 * Returns undefined when the document does not exist.
 */
export async function listChunks(
  tables: TableHandles,
  readDocument: () => Promise<DocumentRecord | undefined>,
  scope: { tenant: string; collection: string; documentId: string },
  options: ListChunksOptions,
): Promise<ChunkPage | undefined> {
  const { limit } = options;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new StoreError('invalid_input', 'limit must be a positive integer');
  }
  const after = options.cursor === undefined ? undefined : decodeChunkCursor(options.cursor);
  let wait = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    const document = await readDocument();
    if (!document) return undefined;
    if (after && after.version !== document.version) {
      throw new StoreError(
        'invalid_cursor',
        `Document "${scope.documentId}" was replaced (it is now version ${document.version}) since this ` +
          'cursor was made: list its chunks again from the first page',
      );
    }
    const first = after ? after.index + 1 : 0;
    const last = Math.min(first + limit, document.chunks) - 1;
    if (first > last) return { document, chunks: [] };
    const found = await readPositions(tables, scope, document.version, first, last);
    if (found.size === last - first + 1) {
      const chunks = [...found.values()].sort((a, b) => a.index - b.index);
      return last < document.chunks - 1
        ? { document, chunks, nextCursor: encodeChunkCursor({ version: document.version, index: last }) }
        : { document, chunks };
    }
    if (attempt === ATTEMPTS) {
      throw new StoreError(
        'unavailable',
        `The chunks of document "${scope.documentId}" are being rewritten; try again in a moment`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait *= 2;
  }
}

/** The chunks at positions first..last of one version, from both tables, each position once. */
async function readPositions(
  tables: TableHandles,
  scope: { tenant: string; collection: string; documentId: string },
  version: number,
  first: number,
  last: number,
): Promise<Map<number, ChunkRecord>> {
  const found = new Map<number, ChunkRecord>();
  for (const name of CHUNK_TABLES) {
    const table = await tables.get(name);
    if (!table) continue;
    const present = await columnNames(table);
    const where = sqlAnd(
      // By key, a B-tree lookup whatever the table's size; a table without keys yet, by scope.
      present.has(CHUNK_KEY_COLUMN)
        ? `${CHUNK_KEY_COLUMN} IN (${positions(first, last)
            .map((index) => sqlString(slotKey(scope.tenant, scope.collection, scope.documentId, index)))
            .join(', ')})`
        : `chunk_index BETWEEN ${first} AND ${last}`,
      // Tombstones share their position's key; their tenant is empty, so the scope drops them.
      scopeWhere(scope.tenant, scope.collection, scope.documentId),
      `version = ${version}`,
    );
    const rows: unknown[] = await table
      .query()
      .where(where)
      .select(CHUNK_COLUMNS.filter((column) => present.has(column)))
      .toArray();
    for (const row of rows) {
      const chunk = chunkFromRow(row);
      // A row both tables hold (a move between them) is the same chunk: the first read stands.
      if (!found.has(chunk.index)) found.set(chunk.index, chunk);
    }
  }
  return found;
}

function positions(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

async function columnNames(table: Table): Promise<Set<string>> {
  return new Set((await table.schema()).fields.map((field) => field.name));
}
