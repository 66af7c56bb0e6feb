import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import {
  byTenant,
  guardedRead,
  memberOf,
  type GuardedReads,
  type ListedDocument,
} from './document-listing.ts';
import { buildOnce } from './owned-keys.ts';
import { runScript, script } from './scripts.ts';

/**
 * Larger records (up to 8 KiB of metadata) are read from the store: a copy costs Redis memory for
 * every document (a typical record is 300-500 bytes as JSON), and a few large ones should not
 * decide how much.
 */
const MAX_COPY_BYTES = 4_096;
/** Long enough to copy a batch of records; renewed after every batch the store's scan yields. */
const BACKFILL_LOCK_MS = 60_000;

/**
 * ARGV: token, then (field, record JSON or '') pairs. A record becomes the copy only while its
 * document still carries this change's mark; '' drops the copy and notes the document stored
 * (`x:`, a record too large to keep).
 */
const PUBLISH = script(`
local token = ARGV[1]
for i = 2, #ARGV, 2 do
  local field = ARGV[i]
  if redis.call('HGET', KEYS[1], 'm:' .. field) == token then
    if ARGV[i + 1] == '' then
      redis.call('HDEL', KEYS[1], 'r:' .. field)
      redis.call('HSET', KEYS[1], 'x:' .. field, '1')
    else
      redis.call('HSET', KEYS[1], 'r:' .. field, ARGV[i + 1])
      redis.call('HDEL', KEYS[1], 'x:' .. field)
    end
    redis.call('HDEL', KEYS[1], 'm:' .. field)
  end
end
return 0`);

/** ARGV: token, then fields. The copy goes; the mark too, while it is still this change's. */
const FORGET = script(`
local token = ARGV[1]
for i = 2, #ARGV do
  local field = ARGV[i]
  redis.call('HDEL', KEYS[1], 'r:' .. field, 'x:' .. field)
  if redis.call('HGET', KEYS[1], 'm:' .. field) == token then
    redis.call('HDEL', KEYS[1], 'm:' .. field)
  end
end
return 0`);

/**
 * The store's `DocumentRecordCopies` in Redis: one hash per tenant holding each document's record
 * as JSON (`r:` fields) and the marks of changes in flight (`m:` fields), so that one HMGET answers
 * whether a copy may be served. It lives in the queue's Redis (no eviction), beside the listing.
 * Losing it (a Redis restart without persistence) loses copies and marks together: every read goes
 * to the store until a worker has filled the copies in again (`Store.syncRecordCopies`). `R` is the
 * store's `DocumentRecord`: this package knows only the key's parts of it.
 *
 * Once they are complete (filled in, and nothing lost them since), a document with no copy, no mark
 * and no note that it is too large to copy is not stored: `read` says so (`null`), and the store
 * answers "not found" without a query. That holds while every writer of the store keeps the
 * copies, as the workers do (as they keep the listing and the commit clock).
 */
export class RedisDocumentRecords<R extends ListedDocument = ListedDocument> {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #reads: GuardedReads | undefined;
  readonly #owner = randomUUID();

  constructor(redis: Redis, keys: Keys, options: { reads?: GuardedReads } = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#reads = options.reads;
  }

  backfill(fill: (renew: () => Promise<void>) => Promise<void>): Promise<'built' | 'complete' | 'busy'> {
    return buildOnce(
      this.#redis,
      { complete: this.#keys.documentRecordsComplete, lock: this.#keys.documentRecordsBuild },
      { owner: this.#owner, lockMs: BACKFILL_LOCK_MS },
      fill,
    );
  }

  async mark(documents: readonly ListedDocument[], token: string): Promise<void> {
    if (documents.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const [tenant, docs] of byTenant(documents)) {
      pipeline.hset(
        this.#keys.documentRecords(tenant),
        ...docs.flatMap((doc) => [`m:${memberOf(doc)}`, token]),
      );
    }
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }

  async publish(records: readonly R[], token: string): Promise<void> {
    await Promise.all(
      [...byTenant(records)].map(([tenant, docs]) => {
        const args = docs.flatMap((record) => {
          const json = JSON.stringify(record);
          return [memberOf(record), Buffer.byteLength(json) > MAX_COPY_BYTES ? '' : json];
        });
        return runScript(this.#redis, PUBLISH, [this.#keys.documentRecords(tenant)], [token, ...args]);
      }),
    );
  }

  async forget(documents: readonly ListedDocument[], token: string): Promise<void> {
    await Promise.all(
      [...byTenant(documents)].map(([tenant, docs]) =>
        runScript(this.#redis, FORGET, [this.#keys.documentRecords(tenant)], [token, ...docs.map(memberOf)]),
      ),
    );
  }

  /**
   * Each document's copy; `undefined` where the store must be read (marked, too large to copy, or
   * the copies not complete), `null` for a document the complete copies say is not stored.
   */
  async read(
    tenant: string,
    documents: readonly { collection: string; documentId: string }[],
  ): Promise<(R | null | undefined)[]> {
    if (documents.length === 0) return [];
    const fields = documents.flatMap((doc) => {
      const field = memberOf(doc);
      return [`r:${field}`, `m:${field}`, `x:${field}`];
    });
    // One round trip: the two replies come from one write to Redis.
    const replies = await guardedRead(this.#reads, () =>
      this.#redis
        .pipeline()
        .exists(this.#keys.documentRecordsComplete)
        .hmget(this.#keys.documentRecords(tenant), ...fields)
        .exec(),
    );
    const [complete, values] = (replies ?? []).map(([error, reply]) => {
      if (error) throw error;
      return reply;
    }) as [number, (string | null)[]];
    return documents.map((_, i) => {
      const [record, mark, large] = [values[3 * i], values[3 * i + 1], values[3 * i + 2]];
      // A document marked is being changed (or a change of it did not finish): not servable.
      if (mark !== null) return undefined;
      if (record !== null && record !== undefined) return JSON.parse(record) as R;
      return complete === 1 && large === null ? null : undefined;
    });
  }
}
