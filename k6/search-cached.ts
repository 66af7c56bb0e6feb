/**
 * The fast path: cached `search`. A fixed set of queries, so after each VU's first round every
 * answer comes from Hopper's result cache.
 *
 *   k6 run k6/search-cached.ts                      # 50 VUs for 30 s against 127.0.0.1:8080
 *   HOPPER_MCP_URL=https://hopper.example/mcp HOPPER_TOKEN=... VUS=200 DURATION=2m k6 run k6/search-cached.ts
 */
import type { Options } from 'k6/options';
import { Rate } from 'k6/metrics';
import { CACHED_QUERIES } from './lib/queries.ts';
import { callTool, envInt, fromCache } from './lib/mcp.ts';

const COLLECTION = __ENV.COLLECTION;
const cacheHits = new Rate('cache_hits');

export const options: Options = {
  scenarios: {
    search_cached: { executor: 'constant-vus', vus: envInt('VUS', 50), duration: __ENV.DURATION || '30s' },
  },
  thresholds: {
    'http_req_duration{tool:search}': ['p(99)<100'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // Below this the cache is not doing its job (an epoch changing all the time, Redis timing out).
    cache_hits: ['rate>0.9'],
  },
};

/** Asks every query once, so the measured calls find them cached. */
export function setup(): void {
  for (const query of CACHED_QUERIES) callTool('search', searchArguments(query));
}

export default function (): void {
  const query = CACHED_QUERIES[(__VU * 7 + __ITER) % CACHED_QUERIES.length] as string;
  cacheHits.add(fromCache(callTool('search', searchArguments(query))));
}

function searchArguments(query: string): Record<string, unknown> {
  return { query, topK: 5, ...(COLLECTION ? { collection: COLLECTION } : {}) };
}
