import {
  Client,
  StreamableHTTPClientTransport,
  type StreamableHTTPClientTransportOptions,
} from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport as LegacyTransport,
  type StreamableHTTPClientTransportOptions as LegacyTransportOptions,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export type { LegacyClient };

/** The protocol revision the current SDK's client is pinned to: stateless, `server/discover`, no `initialize`. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

/**
 * The current SDK's client speaking spec 2026-07-28. The v2 `Client` defaults to
 * `versionNegotiation: 'legacy'` (an `initialize` handshake at 2025-11-25), so the revision is
 * pinned: connecting fails loudly if the gateway does not offer it, rather than quietly falling back.
 * `transport` carries what a test adds on the wire: an `authorization` header, an OAuth
 * `authProvider`, or a `fetch` that watches or reroutes requests.
 */
export async function connectModern(
  url: string,
  transport: StreamableHTTPClientTransportOptions = {},
): Promise<Client> {
  const client = new Client(
    { name: 'hopper-test-modern', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: MODERN_PROTOCOL_VERSION } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url), transport));
  return client;
}

/**
 * The v1 SDK's client (spec 2025-11-25, `initialize`), as VS Code and other legacy clients speak it.
 * `transport` as for {@link connectModern}; a `fetch` may route some requests to another gateway
 * replica, as a load balancer would.
 */
export async function connectLegacy(
  url: string,
  transport: LegacyTransportOptions = {},
): Promise<LegacyClient> {
  const client = new LegacyClient({ name: 'hopper-test-legacy', version: '1.0.0' });
  await client.connect(new LegacyTransport(new URL(url), transport));
  return client;
}

/** The structured output of a successful tool call, failing the test with the error text otherwise. */
export function structured<T = Record<string, unknown>>(result: unknown): T {
  const r = result as { isError?: boolean; structuredContent?: unknown; content?: { text?: string }[] };
  if (r.isError) throw new Error(`tool failed: ${r.content?.map((c) => c.text).join(' ')}`);
  return r.structuredContent as T;
}

/** The error text of a failed tool call, failing the test if the call succeeded. */
export function toolError(result: unknown): string {
  const r = result as { isError?: boolean; content?: { text?: string }[] };
  if (!r.isError) throw new Error(`expected a tool error, got ${JSON.stringify(result)}`);
  return r.content?.map((c) => c.text).join(' ') ?? '';
}

/** A job as `get_job` returns it (the fields tests look at). */
export interface JobOut {
  jobId: string;
  kind?: string;
  documentId?: string;
  state: string;
  stage?: string;
  message?: string;
  progress?: number;
  result?: Record<string, unknown>;
  error?: string;
}

interface ToolCaller {
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<unknown>;
}

export async function getJob(client: ToolCaller, jobId: string): Promise<JobOut> {
  return structured<JobOut>(await client.callTool({ name: 'get_job', arguments: { jobId } }));
}

/** Polls `get_job` until the predicate holds (the test's own timeout bounds the wait). */
export async function waitForJob(
  client: ToolCaller,
  jobId: string,
  predicate: (job: JobOut) => boolean,
): Promise<JobOut> {
  for (;;) {
    const job = await getJob(client, jobId);
    if (predicate(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls `get_job` until the job has ended: completed, failed or cancelled. */
export function waitForJobEnd(client: ToolCaller, jobId: string): Promise<JobOut> {
  return waitForJob(client, jobId, (job) => job.state !== 'queued' && job.state !== 'active');
}

/** Queues an ingest without waiting for it (`wait: false`); returns its job id. */
export async function queueIngest(
  client: ToolCaller,
  args: { content: string; documentId: string; collection?: string },
): Promise<string> {
  const { jobId } = structured<JobOut>(
    await client.callTool({ name: 'ingest_document', arguments: { ...args, wait: false } }),
  );
  return jobId;
}

/** Polls `list_jobs` until an active job of `documentId` is embedding; returns its id. */
export async function waitForEmbeddingJob(client: ToolCaller, documentId: string): Promise<string> {
  for (;;) {
    const { jobs } = structured<{ jobs: JobOut[] }>(
      await client.callTool({ name: 'list_jobs', arguments: { state: 'active' } }),
    );
    const active = jobs.find((j) => j.documentId === documentId && j.stage === 'embedding');
    if (active) return active.jobId;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
