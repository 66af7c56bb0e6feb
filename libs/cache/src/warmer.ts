import type { Logger } from '@hopper/lifecycle';
import type { Redis } from 'ioredis';
import type { Keys, ToolHandlers } from '@hopper/contracts';
import { ALL_COLLECTIONS, type EpochBump, type Epochs } from './epochs.ts';
import type { HotQueries } from './hot-queries.ts';

/** A write waits this long before its warming starts, so a burst of writes is warmed once. */
const DEBOUNCE_MS = 250;
/**
 * After a warming, the collection's next one waits this many times as long as it took: while
 * writes keep coming (an epoch bump every few hundred ms during an ingest), warming takes at most a
 * fifth of the time, and its searches never crowd out the callers'. Warming each bump as it came
 * once had dozens of warmings of one collection running at once (each re-running its 20 searches),
 * and callers' uncached searches at 10 clients took 4 s.
 */
const WARM_PACING = 4;

/** A collection's warming: at most one runs at a time per gateway; bumps meanwhile run one more. */
interface CollectionWarming {
  tenant: string;
  collection: string;
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  /** A bump arrived while a warming ran: warm again (at the latest epoch) once it ends. */
  again: boolean;
  /** Not before this time (the pacing after the last warming). */
  notBefore: number;
}

export interface WarmerDeps {
  handlers: ToolHandlers;
  epochs: Epochs;
  hot: HotQueries;
  redis: Redis;
  keys: Keys;
  logger: Logger;
  /** Searches re-run per collection; 0 disables warming. */
  top: number;
}

/**
 * Re-runs a collection's most frequent searches after a write (and at start) so that the next
 * caller finds them cached. One gateway per (collection, epoch) does it, chosen by a Redis lock;
 * the others then hit L2. Runs in the background and never fails a request.
 */
export class CacheWarmer {
  readonly #deps: WarmerDeps;
  readonly #warmings = new Map<string, CollectionWarming>();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(deps: WarmerDeps) {
    this.#deps = deps;
  }

  start(): void {
    if (this.#deps.top <= 0) return;
    this.#unsubscribe = this.#deps.epochs.onBump((bump) => this.#schedule(bump));
    void this.#warmAll();
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe?.();
    for (const warming of this.#warmings.values()) clearTimeout(warming.timer);
    this.#warmings.clear();
  }

  #schedule(bump: EpochBump): void {
    if (this.#closed) return;
    // Every gateway hears the bump: each sends the search counts it holds in memory now, so the
    // one that warms (after the debounce) ranks what was popular on all of them.
    void this.#deps.hot.flush();
    if (bump.collection === ALL_COLLECTIONS) return;
    const name = `${bump.tenant}\n${bump.collection}`;
    let warming = this.#warmings.get(name);
    if (!warming) {
      warming = {
        tenant: bump.tenant,
        collection: bump.collection,
        timer: undefined,
        running: false,
        again: false,
        notBefore: 0,
      };
      this.#warmings.set(name, warming);
    }
    if (warming.running) warming.again = true;
    else this.#arm(warming);
  }

  /** Starts the collection's warming after the debounce and its pacing; an armed timer stays. */
  #arm(warming: CollectionWarming): void {
    if (warming.timer || this.#closed) return;
    const delay = Math.max(DEBOUNCE_MS, warming.notBefore - Date.now());
    warming.timer = setTimeout(() => {
      warming.timer = undefined;
      void this.#run(warming);
    }, delay);
    warming.timer.unref();
  }

  async #run(warming: CollectionWarming): Promise<void> {
    warming.running = true;
    const started = Date.now();
    try {
      // It warms the collection's epoch as it is now, so every bump before this moment is covered.
      await this.warm(warming.tenant, warming.collection);
    } finally {
      warming.running = false;
      warming.notBefore = Date.now() + WARM_PACING * (Date.now() - started);
      if (warming.again) {
        warming.again = false;
        this.#arm(warming);
      }
    }
  }

  async #warmAll(): Promise<void> {
    try {
      for (const { tenant, collection } of await this.#deps.hot.collections()) {
        if (this.#closed) return;
        await this.warm(tenant, collection);
      }
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'cache warming at start failed');
    }
  }

  /**
   * Warms one collection at its current epoch, unless another gateway already does. When the cache
   * cannot be reached it tries again a little later (a few times), rather than skip this write.
   */
  async warm(tenant: string, collection: string, attempt = 1): Promise<number> {
    const { epochs, hot, redis, keys, handlers, logger, top } = this.#deps;
    try {
      const epoch = await epochs.current(tenant, collection);
      if (epoch === undefined) {
        if (attempt < 4 && !this.#closed) {
          await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
          return this.warm(tenant, collection, attempt + 1);
        }
        logger.warn({ tenant, collection }, 'cache warming skipped: the cache is unavailable');
        return 0;
      }
      const lock = await redis.set(keys.warmLock(tenant, collection, epoch), '1', 'EX', 60, 'NX');
      if (lock !== 'OK') return 0;
      const queries = await hot.top(tenant, collection, top);
      const signal = new AbortController().signal;
      let warmed = 0;
      for (const query of queries) {
        if (this.#closed) break;
        try {
          await handlers.search(JSON.parse(query) as Parameters<ToolHandlers['search']>[0], {
            tenant,
            signal,
            background: true,
          });
          warmed += 1;
        } catch (error) {
          logger.debug({ err: error, query }, 'warming one search failed');
        }
      }
      logger.info({ tenant, collection, epoch, warmed }, 'cache warmed');
      return warmed;
    } catch (error) {
      logger.warn({ err: error, tenant, collection }, 'cache warming failed');
      return 0;
    }
  }
}
