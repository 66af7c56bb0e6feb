/**
 * The fast path: `embed_texts` with four short texts, new every call (answered inline by the
 * gateway; the embedding cache cannot help).
 *
 *   k6 run k6/embed-small.ts
 */
import type { Options } from 'k6/options';
import { callTool, envInt } from './lib/mcp.ts';

export const options: Options = {
  scenarios: {
    embed_small: { executor: 'constant-vus', vus: envInt('VUS', 10), duration: __ENV.DURATION || '30s' },
  },
  thresholds: {
    'http_req_duration{tool:embed_texts}': ['p(99)<100'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export default function (): void {
  const texts = [0, 1, 2, 3].map(
    (i) => `Text ${i} of call ${__ITER} from VU ${__VU}: the keeper trims the wick and logs the weather.`,
  );
  callTool('embed_texts', { texts });
}
