// Single-column keys for the two tables. LanceDB answers a merge-insert keyed on one column with a
// scalar index by looking the keys up (~7 ms for 50 documents at 100k rows on the reference
// machine); keyed on several columns, or with a delete of unmatched rows, it joins the whole table
// (~200 ms at 100k chunks, growing with the table). Keys are persistent: they are stored.

/** Separates the parts of a key. Ids never hold control characters (see validate.ts). */
const SEPARATOR = '\u001f';

/** The documents table's key: one row per (tenant, collection, documentId). */
export function documentKey(tenant: string, collection: string, documentId: string): string {
  return `${tenant}${SEPARATOR}${collection}${SEPARATOR}${documentId}`;
}

/**
 * The chunks table's key: a document's `index`-th chunk position. A new version overwrites its
 * positions in place, so a replacement is one upsert; positions an older, longer version used
 * are overwritten with tombstones in the same commit (see tombstone rows in store.ts).
 */
export function slotKey(tenant: string, collection: string, documentId: string, index: number): string {
  return `${documentKey(tenant, collection, documentId)}${SEPARATOR}${index}`;
}

/** The same keys in SQL, for filling them in on tables written before they existed. */
export const DOCUMENT_KEY_SQL = `concat_ws(chr(31), tenant, collection, document_id)`;
export const SLOT_KEY_SQL = `concat_ws(chr(31), tenant, collection, document_id, CAST(chunk_index AS VARCHAR))`;

/** Whether an id can be part of a key: no control characters (they would make keys ambiguous). */
export function keySafe(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001f]/.test(value);
}
