/**
 * Uncached `search`: every call a query no one has asked before, so Hopper embeds it and runs both
 * store queries. The threshold is looser than the fast path's (P99_MS, default 250 ms): this is
 * the real work, and it grows with the collection.
 *
 *   k6 run k6/search-uncached.ts                    # 10 VUs for 30 s
 *   VUS=50 TOPK=50 P99_MS=150 k6 run k6/search-uncached.ts
 */
import type { Options } from 'k6/options';
import { Rate } from 'k6/metrics';
import { uniqueQuery } from './lib/queries.ts';
import { callTool, envInt, fromCache } from './lib/mcp.ts';

const COLLECTION = __ENV.COLLECTION;
const TOP_K = envInt('TOPK', 5);
const cacheHits = new Rate('cache_hits');

export const options: Options = {
  scenarios: {
    search_uncached: { executor: 'constant-vus', vus: envInt('VUS', 10), duration: __ENV.DURATION || '30s' },
  },
  thresholds: {
    'http_req_duration{tool:search}': [`p(99)<${envInt('P99_MS', 250)}`],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // A hit here means the queries were not new: the figures would flatter the search.
    cache_hits: ['rate<0.01'],
  },
};

export default function (): void {
  const call = callTool('search', {
    query: uniqueQuery(__VU, __ITER),
    topK: TOP_K,
    ...(COLLECTION ? { collection: COLLECTION } : {}),
  });
  cacheHits.add(fromCache(call));
}
