/**
 * The fast path: `get_job` of a finished job. setup() ingests one small document (waiting for it)
 * into the collection COLLECTION (default `k6`), then every VU asks for that job.
 *
 *   k6 run k6/get-job.ts
 */
import type { Options } from 'k6/options';
import { callTool, envInt } from './lib/mcp.ts';

export const options: Options = {
  scenarios: {
    get_job: { executor: 'constant-vus', vus: envInt('VUS', 50), duration: __ENV.DURATION || '30s' },
  },
  thresholds: {
    'http_req_duration{tool:get_job}': ['p(99)<100'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export function setup(): { jobId: string } {
  const call = callTool('ingest_document', {
    content: '# k6\n\nA document for the get_job benchmark.',
    documentId: 'k6-get-job',
    collection: __ENV.COLLECTION || 'k6',
  });
  const jobId = call.result?.structuredContent?.['jobId'];
  if (typeof jobId !== 'string') throw new Error(`setup ingest failed: ${call.response.body}`);
  return { jobId };
}

export default function (data: { jobId: string }): void {
  callTool('get_job', { jobId: data.jobId });
}
