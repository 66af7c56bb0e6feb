import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '@hopper/contracts';
import { guardedRead, type GuardedReads } from './document-listing.ts';
import { runScript, script } from './scripts.ts';

/**
 * Notes kept for gateways to read (about: trimming is by whole blocks). A gateway reads each within
 * milliseconds; one that falls further behind sees a gap in the counts and reads the tables.
 */
const KEEP_NOTES = 128;
/** How long one read of the notes blocks before it is made again. */
const FOLLOW_BLOCK_MS = 5_000;
/** How long a follower waits after a failed read (Redis away) before the next. */
const FOLLOW_RETRY_MS = 500;

/**
 * KEYS[1] the clock, KEYS[2] the notes. ARGV: an epoch for a clock that does not exist yet, the
 * note ('' for none), how many notes to keep. The count, its epoch and the note change together, so
 * a reader never sees a count without its epoch, and the notes are in the order of the counts.
 */
const TICK = script(`
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'epoch', epoch, 'count', count, 'note', ARGV[2])
return count`);

/** One tick as followed (the store's `ClockTick`). */
interface Tick {
  epoch: string;
  count: number;
  note?: string;
}

/**
 * The store's `CommitClock` in the queue's Redis (never evicted): a hash (its epoch and count) and a
 * stream of the ticks with their notes. A Redis that loses them (a restart without persistence)
 * starts a new epoch at the next tick, and until then searches read the tables' versions, as they
 * do when Redis cannot be read.
 */
export class RedisCommitClock {
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #reads: GuardedReads | undefined;

  constructor(redis: Redis, keys: Keys, options: { reads?: GuardedReads } = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#reads = options.reads;
  }

  async tick(note?: string): Promise<void> {
    await runScript(
      this.#redis,
      TICK,
      [this.#keys.commitClock, this.#keys.commitNotes],
      [randomUUID(), note ?? '', KEEP_NOTES],
    );
  }

  async read(): Promise<{ epoch: string; count: number } | undefined> {
    const [epoch, count] = await guardedRead(this.#reads, () =>
      this.#redis.hmget(this.#keys.commitClock, 'epoch', 'count'),
    );
    if (epoch === null || epoch === undefined || count === null || count === undefined) return undefined;
    return { epoch, count: Number(count) };
  }

  /** Reads the notes on a connection of its own (its reads block), from the last one written now. */
  async follow(onTick: (tick: Tick) => void): Promise<() => Promise<void>> {
    const connection = this.#redis.duplicate();
    // Its failures surface as failed reads, retried below; unheard, ioredis would print each one.
    connection.on('error', () => undefined);
    const key = this.#keys.commitNotes;
    let stopped = false;
    // Without it (Redis away), from the first note written after each read: a note missed shows
    // as a gap.
    let last = await lastId(connection, key).catch(() => '$');
    const loop = (async () => {
      while (!stopped) {
        try {
          const reply = await connection.xread('COUNT', 64, 'BLOCK', FOLLOW_BLOCK_MS, 'STREAMS', key, last);
          for (const [, entries] of reply ?? []) {
            for (const [id, fields] of entries) {
              last = id;
              const tick = tickOf(fields);
              if (tick) onTick(tick);
            }
          }
        } catch {
          if (stopped) return;
          await new Promise((resolve) => setTimeout(resolve, FOLLOW_RETRY_MS));
        }
      }
    })();
    return async () => {
      stopped = true;
      connection.disconnect();
      await loop;
    };
  }
}

/** The id of the stream's newest entry, or `0-0` for a stream that does not exist yet. */
async function lastId(redis: Redis, key: string): Promise<string> {
  const newest = (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0];
  return newest?.[0] ?? '0-0';
}

/** A stream entry's fields (name, value, name, value…) as a tick; `undefined` for any other entry. */
function tickOf(fields: string[]): Tick | undefined {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(fields[i] as string, fields[i + 1] as string);
  const epoch = values.get('epoch');
  const count = Number(values.get('count'));
  if (epoch === undefined || !Number.isInteger(count)) return undefined;
  const note = values.get('note');
  return note ? { epoch, count, note } : { epoch, count };
}
