import type { CacheHint, McpServerOptions } from '@modelcontextprotocol/server';
import { isTerminal, type JobView } from '@hopper/contracts';

/**
 * Caching hints (SEP-2549, protocol 2026-07-28): the `ttlMs` and `cacheScope` a 2026-07-28 client
 * reads on `server/discover`, the list results and `resources/read`, chosen to say what Hopper's own
 * cache knows (docs/caching.md). The SDK puts them on the wire for 2026-07-28 requests only; a
 * 2025-11-25 answer carries none.
 */

/**
 * How long the static answers stay fresh: `server/discover`, `tools/list`, `resources/list` and
 * `resources/templates/list`. They are the same for every caller (no tenant's data, and every tool
 * is listed whatever the caller's scopes: scopes are checked at the call), so `public`; and they
 * never change while a gateway runs, only with a deployment, so a client may keep them an hour
 * (after a deployment that changes the tools, an old list is at most an hour old).
 */
export const STATIC_LIST_TTL_MS = 60 * 60 * 1000;

const STATIC: CacheHint = { ttlMs: STATIC_LIST_TTL_MS, cacheScope: 'public' };

/**
 * The SDK's per-operation hints (`McpServer`'s `cacheHints`), for the results it builds itself.
 * `resources/read` is not here: each read says its own (`jobReadHint`, `documentReadHint`).
 */
export const staticCacheHints: NonNullable<McpServerOptions['cacheHints']> = {
  'server/discover': STATIC,
  'tools/list': STATIC,
  'resources/list': STATIC,
  'resources/templates/list': STATIC,
};

/**
 * `hopper://jobs/{id}`: one tenant's job, so `private`. A running or queued job changes at every
 * step: `ttlMs: 0`. A finished job's record no longer changes, and Hopper's own cache serves it
 * for `HOPPER_CACHE_TTL_JOBS_S` without looking at it again, so the client may keep it as long.
 */
export function jobReadHint(job: Pick<JobView, 'state'>, finishedJobTtlMs: number): Required<CacheHint> {
  return { ttlMs: isTerminal(job.state) ? finishedJobTtlMs : 0, cacheScope: 'private' };
}

/**
 * `hopper://documents/{id}`: one tenant's document, so `private`. It changes with its version,
 * which its URI does not name, whenever anyone re-ingests it; Hopper's own cache checks the
 * collection's epoch on every read for that reason, and the client must ask again too: `ttlMs: 0`.
 * (Reading it again is cheap: Hopper answers from its cache until the document changes.)
 */
export const documentReadHint: Required<CacheHint> = { ttlMs: 0, cacheScope: 'private' };
