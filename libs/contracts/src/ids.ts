import { createHash, randomUUID } from 'node:crypto';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Whether a tenant id is well formed (it becomes part of Redis keys and store rows). */
export function isTenantId(value: string): boolean {
  return TENANT.test(value);
}

/** Hex SHA-256 of a document's bytes or text: the content part of job ids and stored versions. */
export function contentHash(content: string | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}

/** What, besides the bytes, shapes the version an ingest stores. */
export interface IngestShape {
  /** The media type the document is parsed as (after detection: aliases already resolved). */
  mediaType: string;
  /** The title the ingest names; none means the title found in the document (or its id). */
  title?: string | undefined;
  /** Flat metadata (see `metadata` in schemas.ts); key order does not matter. */
  metadata: Readonly<Record<string, string | number | boolean>>;
  /**
   * The chunk sizes the worker will use: the ingest's, else the chunker's defaults. Effective values,
   * so naming the defaults explicitly is the same ingest as naming none.
   */
  chunking: { maxChars: number; overlapChars: number };
}

/**
 * The fingerprint of an ingest: a hash of the content's hash and of everything else that changes
 * what is stored (media type, title, metadata, chunking). It travels as the job's `contentHash`,
 * is stored with the version it writes, and names the job (see `ingestJobId`). So two ingests are
 * "the same ingest" (one job, one version) exactly when they would store the same thing, and a
 * re-ingest that only changes the metadata or title is a new version instead of a silent no-op.
 * The gateway and the worker both compare through this one function's output, never field by field.
 */
export function ingestFingerprint(bodyHash: string, shape: IngestShape): string {
  // Flat metadata: sorting the top-level keys makes it canonical. A missing title is `null`, which
  // differs from every given title: the worker then takes the document's own.
  const metadata = Object.entries(shape.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const chunking = [shape.chunking.maxChars, shape.chunking.overlapChars];
  const canonical = JSON.stringify([bodyHash, shape.mediaType, shape.title ?? null, metadata, chunking]);
  return createHash('sha256').update(`ingest-v2\u0000${canonical}`).digest('hex');
}

/**
 * The deterministic id of an ingest job: the same tenant, collection, document and fingerprint
 * (`ingestFingerprint`: content, media type, title, metadata, chunking) always map to the same id,
 * so BullMQ keeps one job however often the same ingest is requested.
 * Hex only: BullMQ job ids must not contain ':' and must not look like integers.
 */
export function ingestJobId(
  tenant: string,
  collection: string,
  documentId: string,
  fingerprint: string,
): string {
  const digest = createHash('sha256')
    .update(`${tenant}\u0000${collection}\u0000${documentId}\u0000${fingerprint}`)
    .digest('hex');
  return `ing_${digest.slice(0, 32)}`;
}

/** Ids for jobs that are never deduplicated (queued embeddings, maintenance). */
export function randomJobId(kind: 'emb' | 'del' | 'bat'): string {
  return `${kind}_${randomUUID().replaceAll('-', '')}`;
}

/** A document id derived from content, for ingests that do not name one. */
export function documentIdFromHash(hash: string): string {
  return `doc_${hash.slice(0, 24)}`;
}
