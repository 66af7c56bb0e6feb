import type { Table } from '@lancedb/lancedb';
import { documentKey } from './keys.ts';
import { parseMetadata } from './metadata.ts';
import { DOCUMENT_KEY_COLUMN } from './schema.ts';
import { sqlString } from './sql.ts';
import type { ChunkRecord, DocumentRecord, SearchHit, SearchSignal } from './types.ts';

// Query results arrive as untyped Arrow rows; these readers check each column they use so a
// schema drift fails loudly instead of leaking undefined into records.

function column(row: unknown, name: string): unknown {
  if (typeof row !== 'object' || row === null) throw new TypeError('store row is not an object');
  return (row as Record<string, unknown>)[name];
}

function str(row: unknown, name: string): string {
  const value = column(row, name);
  if (typeof value !== 'string') throw new TypeError(`store column ${name} is not a string`);
  return value;
}

function num(row: unknown, name: string): number {
  const value = column(row, name);
  if (typeof value !== 'number') throw new TypeError(`store column ${name} is not a number`);
  return value;
}

/** A List<Utf8> cell: an Arrow vector (iterable) or a plain array. */
function strList(row: unknown, name: string): string[] {
  const value = column(row, name);
  if (typeof value !== 'object' || value === null || !(Symbol.iterator in value)) {
    throw new TypeError(`store column ${name} is not a list`);
  }
  return Array.from(value as Iterable<unknown>, (item) => {
    if (typeof item !== 'string') throw new TypeError(`store column ${name} holds a non-string`);
    return item;
  });
}

/** Columns {@link documentFromRow} reads. */
export const DOCUMENT_COLUMNS = [
  'tenant',
  'collection',
  'document_id',
  'title',
  'media_type',
  'content_hash',
  'metadata',
  'model',
  'version',
  'chunks',
  'created_at',
  'updated_at',
];

export function documentFromRow(row: unknown): DocumentRecord {
  return {
    tenant: str(row, 'tenant'),
    collection: str(row, 'collection'),
    documentId: str(row, 'document_id'),
    title: str(row, 'title'),
    mediaType: str(row, 'media_type'),
    contentHash: str(row, 'content_hash'),
    metadata: parseMetadata(str(row, 'metadata')),
    model: str(row, 'model'),
    version: num(row, 'version'),
    chunks: num(row, 'chunks'),
    createdAt: str(row, 'created_at'),
    updatedAt: str(row, 'updated_at'),
  };
}

/** The row shape written to the documents table. */
export function documentToRow(record: DocumentRecord): Record<string, unknown> {
  return {
    tenant: record.tenant,
    collection: record.collection,
    document_id: record.documentId,
    title: record.title,
    media_type: record.mediaType,
    content_hash: record.contentHash,
    metadata: JSON.stringify(record.metadata),
    model: record.model,
    version: record.version,
    chunks: record.chunks,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    doc_key: documentKey(record.tenant, record.collection, record.documentId),
  };
}

/** Columns {@link hitFromRow} reads, besides the score a search adds (`_distance` or `_score`). */
export const HIT_COLUMNS = [
  'collection',
  'document_id',
  'chunk_id',
  'version',
  'text',
  'heading_path',
  'start_offset',
  'end_offset',
  'page',
  'metadata',
];

/** A hit as one signal ranked it: `_distance` from a vector search, `_score` from a full-text one. */
export function hitFromRow(row: unknown, signal: SearchSignal): SearchHit {
  // Cosine distance is 1 - cosine similarity.
  const score = signal === 'vector' ? 1 - num(row, '_distance') : num(row, '_score');
  const page = column(row, 'page');
  return {
    documentId: str(row, 'document_id'),
    chunkId: str(row, 'chunk_id'),
    version: num(row, 'version'),
    score,
    matched: [signal],
    scores: { [signal]: score },
    text: str(row, 'text'),
    headingPath: strList(row, 'heading_path'),
    start: num(row, 'start_offset'),
    end: num(row, 'end_offset'),
    ...(typeof page === 'number' ? { page } : {}),
    metadata: parseMetadata(str(row, 'metadata')),
    collection: str(row, 'collection'),
  };
}

/** Columns {@link chunkFromRow} reads (`page` may be missing from a table an older Hopper wrote). */
export const CHUNK_COLUMNS = [
  'chunk_id',
  'chunk_index',
  'text',
  'heading_path',
  'start_offset',
  'end_offset',
  'page',
];

/** A chunk as `listChunks` returns it. */
export function chunkFromRow(row: unknown): ChunkRecord {
  const page = column(row, 'page');
  return {
    chunkId: str(row, 'chunk_id'),
    index: num(row, 'chunk_index'),
    text: str(row, 'text'),
    headingPath: strList(row, 'heading_path'),
    start: num(row, 'start_offset'),
    end: num(row, 'end_offset'),
    ...(typeof page === 'number' ? { page } : {}),
  };
}

/** Document keys in one `IN (...)` lookup. */
const KEYS_PER_QUERY = 1_000;

/**
 * The documents stored under `keys` (document keys; see keys.ts), by key; missing ones absent.
 * Lookups on the key column's index, a thousand keys per query: what a page of the listing, a
 * batch's comparison and a group commit's version check read.
 */
export async function recordsByKey(
  table: Table,
  keys: readonly string[],
): Promise<Map<string, DocumentRecord>> {
  const records = new Map<string, DocumentRecord>();
  for (let start = 0; start < keys.length; start += KEYS_PER_QUERY) {
    const some = keys.slice(start, start + KEYS_PER_QUERY).map(sqlString);
    const rows: unknown[] = await table
      .query()
      .where(`${DOCUMENT_KEY_COLUMN} IN (${some.join(', ')})`)
      .select(DOCUMENT_COLUMNS)
      .toArray();
    for (const row of rows) {
      const record = documentFromRow(row);
      records.set(documentKey(record.tenant, record.collection, record.documentId), record);
    }
  }
  return records;
}
