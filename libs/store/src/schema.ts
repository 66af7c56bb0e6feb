import { Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } from 'apache-arrow';
import { DOCUMENT_KEY_SQL, SLOT_KEY_SQL } from './keys.ts';
import { StoreError } from './store-error.ts';

// Table names and column names are persistent: existing stores are read with them.
export const DOCUMENTS_TABLE = 'documents';
/**
 * Chunks live in two tables with one schema. New versions are written to the small delta table,
 * whose indexes are cheap to keep up to date; when it passes its bound its rows are moved into the
 * main table in one commit, and only then is the main table's index work (which grows with the
 * table) done. A search reads the main table, then the delta. See {@link DeltaMove} in
 * maintenance.ts for why that order, and how a move never hides a row.
 */
export const CHUNKS_TABLE = 'chunks';
export const DELTA_TABLE = 'chunks_delta';
/** The chunk tables in the order reads visit them. */
export const CHUNK_TABLES = [CHUNKS_TABLE, DELTA_TABLE] as const;
export type ChunkTableName = (typeof CHUNK_TABLES)[number];

// Lower-case snake_case column names need no quoting in where-clauses.
function text(name: string): Field {
  return new Field(name, new Utf8(), false);
}

function int(name: string): Field {
  return new Field(name, new Int32(), false);
}

function optionalInt(name: string): Field {
  return new Field(name, new Int32(), true);
}

function textList(name: string): Field {
  return new Field(name, new List(new Field('item', new Utf8(), true)), false);
}

/** One row per document: the current version's record. */
export function documentsSchema(): Schema {
  return new Schema([
    text('tenant'),
    text('collection'),
    text('document_id'),
    text('title'),
    text('media_type'),
    text('content_hash'),
    text('metadata'),
    text('model'),
    int('version'),
    int('chunks'),
    text('created_at'),
    text('updated_at'),
    text('doc_key'),
  ]);
}

/**
 * One row per chunk. The document's metadata is copied onto each chunk (JSON for returning,
 * `meta_kv` entries for filtering) so metadata filters run inside the vector and full-text
 * queries. `search_text` is what the full-text index holds: the chunk with its context.
 */
export function chunksSchema(dimension: number): Schema {
  return new Schema([
    text('tenant'),
    text('collection'),
    text('document_id'),
    text('chunk_id'),
    int('version'),
    int('chunk_index'),
    text('text'),
    textList('heading_path'),
    int('start_offset'),
    int('end_offset'),
    text('model'),
    text('metadata'),
    textList('meta_kv'),
    new Field('vector', new FixedSizeList(dimension, new Field('item', new Float32(), true)), false),
    optionalInt('page'),
    text('search_text'),
    text('slot'),
  ]);
}

/** Full-text index on `search_text`: BM25 over lower-cased, ASCII-folded, English-stemmed words without stop words. */
export const TEXT_INDEX_COLUMN = 'search_text';

/**
 * Columns added to the chunks table after its first release, with the SQL that fills them in for
 * rows written before: a store written by an older Hopper is brought up to date by its writer.
 */
export const ADDED_CHUNK_COLUMNS: readonly { name: string; valueSql: string }[] = [
  { name: 'page', valueSql: 'CAST(NULL AS INT)' },
  { name: 'search_text', valueSql: 'text' },
  { name: 'slot', valueSql: SLOT_KEY_SQL },
];

/** As {@link ADDED_CHUNK_COLUMNS}, for the documents table. */
export const ADDED_DOCUMENT_COLUMNS: readonly { name: string; valueSql: string }[] = [
  { name: 'doc_key', valueSql: DOCUMENT_KEY_SQL },
];

/** The key columns (see keys.ts), each with a B-tree index built by the writer. */
export const CHUNK_KEY_COLUMN = 'slot';
export const DOCUMENT_KEY_COLUMN = 'doc_key';

/** The vector length of a chunks table, read from its schema. */
export function vectorDimension(schema: Schema): number | undefined {
  const type: unknown = schema.fields.find((field) => field.name === 'vector')?.type;
  // Compared by shape, not instanceof: LanceDB loads its own (CommonJS) copy of apache-arrow.
  if (typeof type === 'object' && type !== null && 'listSize' in type && typeof type.listSize === 'number') {
    return type.listSize;
  }
  return undefined;
}

/** The vector length of an existing chunks table. */
export async function tableDimension(table: { schema(): Promise<Schema> }): Promise<number> {
  const dimension = vectorDimension(await table.schema());
  if (dimension === undefined) throw new StoreError('unavailable', 'The chunks table has no vector column');
  return dimension;
}
