import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import { guarded, type CircuitBreaker } from './circuit-breaker.ts';
import { buildOnce } from './owned-keys.ts';

/** A document's place in a tenant's listing (the store's `ListedDocument`). */
export interface ListedDocument {
  tenant: string;
  collection: string;
  documentId: string;
}

/** A position in a tenant's listing (the store's `ListPosition`). */
export interface ListingPosition {
  collection: string;
  documentId: string;
}

/** Between collection and document id; ids never hold control characters, so members sort as the pair. */
const SEPARATOR = '\u001f';
/** The character after SEPARATOR: `collection` + it bounds a collection's members from above. */
const AFTER_SEPARATOR = '\u0020';
/**
 * How a gateway reads the listing and the record copies: like its other optional Redis reads, behind
 * a circuit breaker and a timeout, since the store can answer without them (a slow or unreachable
 * Redis must not hold up `get_document`). Writers pass none: their writes must not be skipped.
 */
export interface GuardedReads {
  breaker: CircuitBreaker;
  timeoutMs: number;
}

/** Runs a read behind `reads` when given. */
export function guardedRead<T>(reads: GuardedReads | undefined, call: () => Promise<T>): Promise<T> {
  return reads ? guarded(reads.breaker, reads.timeoutMs, call) : call();
}

/** A document's member in its tenant's listing, and its field in the record copies. */
export function memberOf(doc: { collection: string; documentId: string }): string {
  return `${doc.collection}${SEPARATOR}${doc.documentId}`;
}

/** A suspect's member: the tenant in front of the listing's member (the set holds every tenant's). */
function suspectOf(doc: ListedDocument): string {
  return `${doc.tenant}${SEPARATOR}${memberOf(doc)}`;
}

/** Documents grouped by tenant (every key the listing and the copies use is per tenant). */
export function byTenant<D extends ListedDocument>(documents: readonly D[]): Map<string, D[]> {
  const grouped = new Map<string, D[]>();
  for (const doc of documents) {
    const some = grouped.get(doc.tenant) ?? [];
    some.push(doc);
    grouped.set(doc.tenant, some);
  }
  return grouped;
}

/** Members written per ZADD while building. */
const BUILD_BATCH = 2_000;
/** Long enough to read a large documents table; renewed after every batch. */
const BUILD_LOCK_MS = 60_000;

/**
 * The store's `DocumentListing` in Redis: one sorted set per tenant whose members are
 * `collection` U+001F `documentId`, all scored 0, so ZRANGE BYLEX returns them in the order
 * `list_documents` pages in, at a cost that does not grow with the set. It lives in the queue's
 * Redis (no eviction): an evicted set under a "complete" mark would hide documents. When Redis
 * loses it (a restart without persistence), the mark goes with it and readers sort the store's
 * table until a worker has rebuilt it (`Store.syncListing`).
 */
export class RedisDocumentListing {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #reads: GuardedReads | undefined;
  readonly #owner = randomUUID();

  constructor(redis: Redis, keys: Keys, options: { reads?: GuardedReads } = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#reads = options.reads;
  }

  async add(documents: readonly ListedDocument[]): Promise<void> {
    await this.#each(documents, (pipeline, key, members) =>
      pipeline.zadd(key, ...members.flatMap((member) => [0, member])),
    );
  }

  async remove(documents: readonly ListedDocument[]): Promise<void> {
    await this.#each(documents, (pipeline, key, members) => pipeline.zrem(key, ...members));
  }

  async page(
    tenant: string,
    collection: string | undefined,
    after: ListingPosition | undefined,
    count: number,
  ): Promise<ListingPosition[] | undefined> {
    const range = lexRange(collection, after);
    if (range === undefined) {
      return (await guardedRead(this.#reads, () => this.complete())) ? [] : undefined;
    }
    const replies = await guardedRead(this.#reads, () =>
      this.#redis
        .pipeline()
        .exists(this.#keys.documentListingComplete)
        .zrangebylex(this.#keys.documentListing(tenant), range.min, range.max, 'LIMIT', 0, count)
        .exec(),
    );
    const [complete, members] = (replies ?? []).map(([error, reply]) => {
      if (error) throw error;
      return reply;
    });
    if (complete !== 1) return undefined;
    return (members as string[]).map(positionOf);
  }

  /** Whether the listing holds every stored document (it was built, and nothing lost it since). */
  async complete(): Promise<boolean> {
    return (await this.#redis.exists(this.#keys.documentListingComplete)) === 1;
  }

  build(scan: () => AsyncIterable<ListedDocument[]>): Promise<'built' | 'complete' | 'busy'> {
    return buildOnce(
      this.#redis,
      { complete: this.#keys.documentListingComplete, lock: this.#keys.documentListingBuild },
      { owner: this.#owner, lockMs: BUILD_LOCK_MS },
      async (renew) => {
        for await (const documents of scan()) {
          for (let start = 0; start < documents.length; start += BUILD_BATCH) {
            await this.add(documents.slice(start, start + BUILD_BATCH));
          }
          await renew();
        }
      },
    );
  }

  async suspect(documents: readonly ListedDocument[]): Promise<void> {
    if (documents.length === 0) return;
    await this.#redis.sadd(this.#keys.documentListingSuspects, ...documents.map(suspectOf));
  }

  async takeSuspects(count: number): Promise<ListedDocument[]> {
    const members = await this.#redis.spop(this.#keys.documentListingSuspects, count);
    return members.flatMap((member) => {
      const [tenant, collection, documentId] = member.split(SEPARATOR);
      // Ids never hold the separator, so anything else is not a member this class wrote.
      return tenant && collection && documentId ? [{ tenant, collection, documentId }] : [];
    });
  }

  /** One pipeline: `command` once per tenant with that tenant's members. */
  async #each(
    documents: readonly ListedDocument[],
    command: (pipeline: ReturnType<Redis['pipeline']>, key: string, members: string[]) => unknown,
  ): Promise<void> {
    if (documents.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const [tenant, docs] of byTenant(documents)) {
      command(pipeline, this.#keys.documentListing(tenant), docs.map(memberOf));
    }
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }
}

/**
 * ZRANGEBYLEX bounds for members strictly after `after`, within `collection` when given; undefined
 * when nothing can follow (a cursor past the collection).
 */
function lexRange(
  collection: string | undefined,
  after: ListingPosition | undefined,
): { min: string; max: string } | undefined {
  const afterMin = after && `(${after.collection}${SEPARATOR}${after.documentId}`;
  if (collection === undefined) return { min: afterMin ?? '-', max: '+' };
  const max = `(${collection}${AFTER_SEPARATOR}`;
  if (after === undefined || after.collection < collection) return { min: `[${collection}${SEPARATOR}`, max };
  if (after.collection > collection) return undefined;
  return { min: afterMin as string, max };
}

function positionOf(member: string): ListingPosition {
  const at = member.indexOf(SEPARATOR);
  return { collection: member.slice(0, at), documentId: member.slice(at + 1) };
}
