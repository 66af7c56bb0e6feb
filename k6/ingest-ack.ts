/**
 * The fast path: `ingest_document` with `wait: false`, the time to acknowledge an ingest with its
 * job handle. Each call sends a new document of SIZE_KB kilobytes (default 1) into the collection
 * COLLECTION (default `k6-ingest`): the workers ingest them all, so point it at a collection you
 * can delete afterwards.
 *
 *   SIZE_KB=100 VUS=10 k6 run k6/ingest-ack.ts
 */
import type { Options } from 'k6/options';
import { callTool, envInt } from './lib/mcp.ts';

const SIZE = envInt('SIZE_KB', 1) * 1024;
const PARAGRAPH = 'The keeper trims the wick, winds the clockwork and writes the weather in the log. ';
const BODY = PARAGRAPH.repeat(Math.ceil(SIZE / PARAGRAPH.length)).slice(0, SIZE);

export const options: Options = {
  scenarios: {
    ingest_ack: { executor: 'constant-vus', vus: envInt('VUS', 10), duration: __ENV.DURATION || '30s' },
  },
  thresholds: {
    'http_req_duration{tool:ingest_document}': ['p(99)<100'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export default function (): void {
  // A new id and new content every call: the same content twice would be the same job.
  const documentId = `k6-${__VU}-${__ITER}-${Date.now()}`;
  callTool('ingest_document', {
    content: `# ${documentId}\n\n${BODY}`,
    documentId,
    collection: __ENV.COLLECTION || 'k6-ingest',
    wait: false,
  });
}
