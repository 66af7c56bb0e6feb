import type { Logger } from '@hopper/lifecycle';
import type { Redis } from 'ioredis';
import type { Keys, ToolHandlers } from '@hopper/contracts';
import { ALL_COLLECTIONS, type EpochBump, type Epochs } from './epochs.ts';
import type { HotQueries } from './hot-queries.ts';

/** Bumps closer together than this (a bulk ingest) trigger one warming, for the last epoch. */
const DEBOUNCE_MS = 250;

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
  readonly #timers = new Map<string, NodeJS.Timeout>();
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
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #schedule(bump: EpochBump): void {
    if (this.#closed) return;
    // Every gateway hears the bump: each sends the search counts it holds in memory now, so the
    // one that warms (after the debounce) ranks what was popular on all of them.
    void this.#deps.hot.flush();
    if (bump.collection === ALL_COLLECTIONS) return;
    const name = `${bump.tenant}\n${bump.collection}`;
    clearTimeout(this.#timers.get(name));
    this.#timers.set(
      name,
      setTimeout(() => {
        this.#timers.delete(name);
        void this.warm(bump.tenant, bump.collection);
      }, DEBOUNCE_MS),
    );
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
