/**
 * The concurrency sweep: cached `search` with 1, 10, 50 and 200 VUs, one after the other
 * (STEP_S seconds each, default 30), each with its own threshold so the summary shows where it breaks.
 *
 *   k6 run k6/sweep.ts
 */
import type { Options, Scenario } from 'k6/options';
import { CACHED_QUERIES } from './lib/queries.ts';
import { callTool, envInt } from './lib/mcp.ts';

const STEP_SECONDS = envInt('STEP_S', 30);
const LEVELS = [1, 10, 50, 200];

const scenarios: Record<string, Scenario> = {};
const thresholds: Record<string, string[]> = { http_req_failed: ['rate<0.01'] };
LEVELS.forEach((vus, i) => {
  const name = `search_cached_${vus}`;
  // A 2 s gap between steps lets the last step's calls finish first.
  scenarios[name] = {
    executor: 'constant-vus',
    vus,
    duration: `${STEP_SECONDS}s`,
    startTime: `${i * (STEP_SECONDS + 2)}s`,
    exec: 'search',
  };
  thresholds[`http_req_duration{scenario:${name}}`] = ['p(99)<100'];
});

export const options: Options = { scenarios, thresholds };

export function setup(): void {
  for (const query of CACHED_QUERIES) callTool('search', { query, topK: 5 });
}

export function search(): void {
  callTool('search', {
    query: CACHED_QUERIES[(__VU * 7 + __ITER) % CACHED_QUERIES.length],
    topK: 5,
  });
}
