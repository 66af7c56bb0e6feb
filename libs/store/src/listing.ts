import type { Table } from '@lancedb/lancedb';
import type { ListPosition } from './cursor.ts';
import { documentKey } from './keys.ts';
import { readRecords, type DocumentRecordCopies } from './record-copies.ts';
import type { DocumentRecord, ListedDocument } from './types.ts';

/**
 * An ordered index of the documents a store holds, kept outside LanceDB, which can only list a
 * page by sorting every matching row (26 ms of CPU at 59k documents, growing with the table). A
 * page is then the next keys from the listing and their records looked up by key, at the same cost
 * at any size. The listing holds every stored document and may hold more: the writer adds a
 * document before its commit and again after it, and removes one after its delete commits, so a
 * key without a record (a write that failed, a delete between its two steps) is skipped by the
 * reader, never a record without a key. Such keys are pruned: a reader that skips one, and a write
 * that fails after listing its documents, name them suspects, and a writer checks each under the
 * document's write lock (see {@link Store.pruneListing}). Until the listing is complete (built from
 * the table once: see {@link Store.syncListing}), readers sort the table as before.
 */
export interface DocumentListing {
  /** Records that these documents exist or are about to (before and after their commit). */
  add(documents: readonly ListedDocument[]): Promise<void>;
  /** Forgets documents whose delete has committed. */
  remove(documents: readonly ListedDocument[]): Promise<void>;
  /**
   * The next `count` positions of a tenant's listing strictly after `after` (from the start
   * without it), within one collection when given, in (collection, documentId) order; undefined
   * while the listing is not complete.
   */
  page(
    tenant: string,
    collection: string | undefined,
    after: ListPosition | undefined,
    count: number,
  ): Promise<ListPosition[] | undefined>;
  /**
   * Builds the listing from `scan` (every stored document) unless it is complete or another
   * process is building it, then marks it complete. Writes go on meanwhile: each adds its own.
   */
  build(scan: () => AsyncIterable<ListedDocument[]>): Promise<'built' | 'complete' | 'busy'>;
  /** Names listed documents that may have no record, for a writer to check (see `takeSuspects`). */
  suspect(documents: readonly ListedDocument[]): Promise<void>;
  /** Removes and returns up to `count` suspects, each named once however often it was suspected. */
  takeSuspects(count: number): Promise<ListedDocument[]>;
}

/**
 * Rounds of keys without records a page read tolerates before it sorts the table instead: a
 * listing full of keys whose documents are gone (a store wiped under a Redis that kept its
 * listing) costs a bounded number of lookups, and is still answered correctly.
 */
const MAX_SPARSE_ROUNDS = 4;

/**
 * One page from the listing: its keys, then their records (the servable copies, the rest by key from
 * the table). Keys without a record are skipped and more are read in their place. Undefined when the
 * listing is incomplete or too sparse: the caller sorts the table.
 */
export async function pageFromListing(
  listing: DocumentListing,
  copies: DocumentRecordCopies | undefined,
  documents: Table,
  tenant: string,
  collection: string | undefined,
  after: ListPosition | undefined,
  limit: number,
): Promise<{ documents: DocumentRecord[]; more: boolean } | undefined> {
  const found: DocumentRecord[] = [];
  let position = after;
  for (let round = 0; round < MAX_SPARSE_ROUNDS; round++) {
    // One more than the page tells whether another follows.
    const want = limit + 1 - found.length;
    // The listing unreachable is not the store unreachable: the table can still be sorted.
    const positions = await listing.page(tenant, collection, position, want).catch(() => undefined);
    if (positions === undefined) return undefined;
    const records = await readRecords(copies, documents, tenant, positions);
    const missing: ListedDocument[] = [];
    for (const at of positions) {
      const record = records.get(documentKey(tenant, at.collection, at.documentId));
      if (record) found.push(record);
      else missing.push({ tenant, ...at });
    }
    // A write in flight, or a key left behind: a writer tells which. The page does not wait for it.
    if (missing.length > 0) void listing.suspect(missing).catch(() => undefined);
    if (found.length > limit) return { documents: found.slice(0, limit), more: true };
    if (positions.length < want) return { documents: found, more: false };
    position = positions.at(-1);
  }
  return undefined;
}

/** Every document of the documents table, a batch at a time: what a listing is built from. */
export async function* scanDocuments(table: Table | undefined): AsyncIterable<ListedDocument[]> {
  if (!table) return;
  // One query reads one version of the table, streamed batch by batch. Documents written since
  // it began are in the listing already: their writers added them.
  for await (const batch of table.query().select(['tenant', 'collection', 'document_id'])) {
    const tenants = batch.getChild('tenant');
    const collections = batch.getChild('collection');
    const ids = batch.getChild('document_id');
    const documents: ListedDocument[] = [];
    for (let row = 0; row < batch.numRows; row++) {
      documents.push({
        tenant: String(tenants?.get(row)),
        collection: String(collections?.get(row)),
        documentId: String(ids?.get(row)),
      });
    }
    yield documents;
  }
}
