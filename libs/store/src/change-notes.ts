import { parseMetadata } from './metadata.ts';
import type { IndexedChunk } from './memory-index.ts';

/**
 * A note of one commit, sent with its tick of the commit clock (see {@link CommitClock}), so that
 * gateways' search mirrors take in a write without reading the tables: the chunk rows it wrote and
 * each document it wrote or deleted. JSON, vectors as base64 of their float32 bytes.
 */
interface EncodedChange {
  /** Rows: tenant, collection, document id, chunk id, version, text, heading path, start, end,
   * page (or null), model, metadata (JSON), metadata entries, vector, search text (null: the text). */
  r: [
    string,
    string,
    string,
    string,
    number,
    string,
    string[],
    number,
    number,
    number | null,
    string,
    string,
    string[],
    string,
    string | null,
  ][];
  /** Documents: tenant, collection, document id, the version it has now (0: deleted). */
  d: [string, string, string, number][];
}

/** A commit as a mirror applies it. */
export interface CommitChange {
  /** The rows it wrote, tombstones left out. */
  rows: IndexedChunk[];
  /** Every document it wrote or deleted, with its version now (0: deleted): its other versions' rows are gone. */
  documents: { tenant: string; collection: string; documentId: string; version: number }[];
}

/**
 * Past this a commit is noted without its rows (a large batch): mirrors read the tables instead,
 * and Redis, which keeps the last notes for gateways to read, holds no more than this per note.
 */
const MAX_NOTE_BYTES = 1024 * 1024;

/**
 * The note of a commit, from the rows it wrote to the chunk tables (as the writer builds them,
 * tombstones left out) and its documents' versions; `undefined` when it would be too large (see {@link MAX_NOTE_BYTES}).
 */
export function encodeChange(
  rows: readonly Record<string, unknown>[],
  documents: CommitChange['documents'],
): string | undefined {
  const encoded: EncodedChange = {
    r: [],
    d: documents.map((d) => [d.tenant, d.collection, d.documentId, d.version]),
  };
  let bytes = 0;
  for (const row of rows) {
    const vector = row['vector'] as Float32Array;
    const text = row['text'] as string;
    const searchText = row['search_text'] as string;
    bytes += text.length + (searchText === text ? 0 : searchText.length) + vector.byteLength * 1.4;
    if (bytes > MAX_NOTE_BYTES) return undefined;
    encoded.r.push([
      row['tenant'] as string,
      row['collection'] as string,
      row['document_id'] as string,
      row['chunk_id'] as string,
      row['version'] as number,
      text,
      row['heading_path'] as string[],
      row['start_offset'] as number,
      row['end_offset'] as number,
      (row['page'] as number | null) ?? null,
      row['model'] as string,
      row['metadata'] as string,
      row['meta_kv'] as string[],
      Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64'),
      searchText === text ? null : searchText,
    ]);
  }
  const note = JSON.stringify(encoded);
  return note.length > MAX_NOTE_BYTES ? undefined : note;
}

/**
 * A note back as the rows and documents it names: `key` keys a row as the mirror does, `name` gives
 * the one copy of a tenant, collection or model name the mirror keeps.
 */
export function decodeChange(
  note: string,
  key: (tenant: string, collection: string, chunkId: string) => string,
  name: (value: string) => string,
): CommitChange {
  const { r, d } = JSON.parse(note) as EncodedChange;
  return {
    rows: r.map(
      ([
        tenant,
        collection,
        documentId,
        chunkId,
        version,
        text,
        headingPath,
        start,
        end,
        page,
        model,
        metadata,
        metaKv,
        vector,
        searchText,
      ]) => {
        // Copied out of Buffer's pool: a Float32Array needs its own aligned buffer.
        const bytes = new Uint8Array(Buffer.from(vector, 'base64'));
        return {
          key: key(tenant, collection, chunkId),
          tenant: name(tenant),
          collection: name(collection),
          documentId,
          chunkId,
          version,
          model: name(model),
          text,
          headingPath,
          start,
          end,
          ...(page === null ? {} : { page }),
          metadata: parseMetadata(metadata),
          metaKv,
          vector: new Float32Array(bytes.buffer),
          searchText: searchText ?? text,
        };
      },
    ),
    documents: d.map(([tenant, collection, documentId, version]) => ({
      tenant,
      collection,
      documentId,
      version,
    })),
  };
}
