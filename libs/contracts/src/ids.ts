import { createHash, randomUUID } from 'node:crypto';

/** Hex SHA-256 of a document's bytes or text: the content part of job ids and stored versions. */
export function contentHash(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * The deterministic id of an ingest job: the same tenant, collection, document and content always
 * map to the same id, so BullMQ keeps one job however often the same ingest is requested.
 * Hex only: BullMQ job ids must not contain ':' and must not look like integers.
 */
export function ingestJobId(tenant: string, collection: string, documentId: string, hash: string): string {
  const digest = createHash('sha256')
    .update(`${tenant}\u0000${collection}\u0000${documentId}\u0000${hash}`)
    .digest('hex');
  return `ing_${digest.slice(0, 32)}`;
}

/** Ids for jobs that are never deduplicated (queued embeddings, maintenance). */
export function randomJobId(kind: 'emb' | 'del'): string {
  return `${kind}_${randomUUID().replaceAll('-', '')}`;
}

/** A document id derived from content, for ingests that do not name one. */
export function documentIdFromHash(hash: string): string {
  return `doc_${hash.slice(0, 24)}`;
}
