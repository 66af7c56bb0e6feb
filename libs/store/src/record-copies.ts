import type { Table } from '@lancedb/lancedb';
import { documentKey } from './keys.ts';
import { recordsByKey } from './rows.ts';
import type { DocumentRecord, ListedDocument } from './types.ts';

/**
 * Copies of committed document records kept outside LanceDB, so that a read by key
 * (`get_document`, a page of `list_documents`) costs a Redis round trip instead of a LanceDB query
 * (~4 ms of CPU each, whatever the table's size, and a wait behind every search in LanceDB's
 * threads). The store's table stays the truth: a document without a servable copy is read there.
 *
 * A copy is served only when nothing has changed the document since it was written. Every change
 * (a write or a delete) first **marks** the document with a token of its own, then commits, then
 * **publishes** the new record (or **forgets** the copy, for a delete), which clears the mark only
 * if it is still that change's token. A marked document is read from the table. So:
 * - between a commit and its publish, readers read the table (they see the commit);
 * - a process that dies between the two leaves the mark, and the table is read until the document
 *   next changes;
 * - a change that fails leaves its mark too (the previous copy may no longer be the stored record);
 * - a publish whose mark another change has overwritten writes nothing.
 * Writes, deletes and backfills of one document hold its write lock from their mark to their
 * publish, so changes of one document do not overlap. A writer stalled past its lock's expiry (30 s)
 * breaks that, as it breaks the versions themselves (two writers may then both write version n+1);
 * its late commit can then stay behind a newer-looking copy until the document changes again.
 */
export interface DocumentRecordCopies {
  /** Before a change commits: the documents are read from the table until it is published. */
  mark(documents: readonly ListedDocument[], token: string): Promise<void>;
  /**
   * After a write committed: each record becomes the served copy, unless another change marked its
   * document since `mark` (the mark is then left to that change).
   */
  publish(records: readonly DocumentRecord[], token: string): Promise<void>;
  /** After a delete committed: the copy goes, and the mark too when it is still `token`. */
  forget(documents: readonly ListedDocument[], token: string): Promise<void>;
  /**
   * Runs `fill` unless the copies are complete (every document stored when they were last filled
   * has had one published, or a mark) or another process is filling them, then notes them
   * complete. `renew` keeps this process's claim while a large store is read.
   */
  backfill(fill: (renew: () => Promise<void>) => Promise<void>): Promise<'built' | 'complete' | 'busy'>;
  /**
   * The servable copies of a tenant's documents, in order: undefined for one that has none (marked,
   * too large to copy, or not yet copied), which the caller reads from the table; `null` for one
   * that is not stored, which the copies may say only once complete (see `backfill`), while every
   * writer of the store keeps them.
   */
  read(
    tenant: string,
    documents: readonly { collection: string; documentId: string }[],
  ): Promise<(DocumentRecord | null | undefined)[]>;
}

/**
 * Records by document key: the servable copies first, the rest from the table (one query by key).
 * Copies that cannot be read (Redis away) are not an error: everything is read from the table.
 */
export async function readRecords(
  copies: DocumentRecordCopies | undefined,
  table: Table,
  tenant: string,
  documents: readonly { collection: string; documentId: string }[],
): Promise<Map<string, DocumentRecord>> {
  const found = new Map<string, DocumentRecord>();
  const copied = copies ? await copies.read(tenant, documents).catch(() => undefined) : undefined;
  const missing: string[] = [];
  documents.forEach((doc, i) => {
    const key = documentKey(tenant, doc.collection, doc.documentId);
    const copy = copied?.[i];
    if (copy) found.set(key, copy);
    // Not stored, say the complete copies: no query to look for it.
    else if (copy !== null) missing.push(key);
  });
  if (missing.length > 0)
    for (const [key, record] of await recordsByKey(table, missing)) found.set(key, record);
  return found;
}
