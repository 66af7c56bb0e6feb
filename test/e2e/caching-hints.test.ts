import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { MODERN_PROTOCOL_VERSION, connectModern, queueIngest, waitForJobEnd } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

/**
 * Caching hints (SEP-2549, spec 2026-07-28) as they reach a client over HTTP: `ttlMs` and
 * `cacheScope` on server/discover, the list results and resources/read, chosen to say what
 * Hopper's own cache knows; none on a 2025-11-25 answer. Raw JSON-RPC, so the test sees the fields
 * exactly as they are on the wire (the SDK's client would consume them).
 */

const HOUR_MS = 60 * 60 * 1000;
const FINISHED_JOB_TTL_S = 900;

let stack: TestStack;
let client: Client;

beforeAll(async () => {
  // No worker at first: the first job stays queued until one is started.
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    workers: 0,
    env: { HOPPER_CACHE_TTL_JOBS_S: String(FINISHED_JOB_TTL_S) },
  });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

type Result = Record<string, unknown> & { ttlMs?: unknown; cacheScope?: unknown };

/** One 2026-07-28 request, as a client sends it (the `_meta` envelope and routing headers). */
async function modern(method: string, params: Record<string, unknown> = {}): Promise<Result> {
  const response = await fetch(stack.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
      'mcp-method': method,
      ...(typeof params.uri === 'string' ? { 'mcp-name': params.uri } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
          'io.modelcontextprotocol/clientInfo': { name: 'hopper-test-caching', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
  const body = (await response.json()) as { result?: Result; error?: unknown };
  if (!body.result) throw new Error(`${method} failed: ${JSON.stringify(body)}`);
  return body.result;
}

/** A 2025-11-25 exchange: initialize, then `method` in that session; the answer may be SSE. */
async function legacy(method: string, params: Record<string, unknown> = {}): Promise<Result> {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
  };
  const init = await fetch(stack.url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'hopper-test-caching', version: '1.0.0' },
      },
    }),
  });
  const session = init.headers.get('mcp-session-id');
  await init.text();
  const response = await fetch(stack.url, {
    method: 'POST',
    headers: { ...headers, ...(session ? { 'mcp-session-id': session } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice('data: '.length))
        .join('')
    : text;
  const body = JSON.parse(json) as { result?: Result };
  if (!body.result) throw new Error(`${method} failed: ${text}`);
  return body.result;
}

const hints = (result: Result) => ({ ttlMs: result.ttlMs, cacheScope: result.cacheScope });

describe('caching hints (SEP-2549)', () => {
  it('server/discover and the lists are public and fresh for an hour: the same for every caller, and fixed while a gateway runs', async () => {
    for (const method of ['server/discover', 'tools/list', 'resources/list', 'resources/templates/list']) {
      expect(hints(await modern(method)), method).toEqual({ ttlMs: HOUR_MS, cacheScope: 'public' });
    }
  });

  it("a job's resource is private: immediately stale while the job is queued, then fresh as long as Hopper's cache keeps a finished job", async () => {
    const jobId = await queueIngest(client, {
      content: '# Lamps\nKeepers trim the wick every evening.',
      documentId: 'caching-hints-lamps',
    });
    const uri = `hopper://jobs/${jobId}`;
    const queued = await modern('resources/read', { uri });
    expect(JSON.parse((queued.contents as { text: string }[])[0]!.text)).toMatchObject({ state: 'queued' });
    expect(hints(queued)).toEqual({ ttlMs: 0, cacheScope: 'private' });

    await stack.startWorker();
    expect((await waitForJobEnd(client, jobId)).state).toBe('completed');
    const done = await modern('resources/read', { uri });
    expect(JSON.parse((done.contents as { text: string }[])[0]!.text)).toMatchObject({ state: 'completed' });
    expect(hints(done)).toEqual({ ttlMs: FINISHED_JOB_TTL_S * 1000, cacheScope: 'private' });

    // A document changes with its version, which its URI does not name: always asked again.
    const document = await modern('resources/read', { uri: 'hopper://documents/caching-hints-lamps' });
    expect(JSON.parse((document.contents as { text: string }[])[0]!.text)).toMatchObject({
      documentId: 'caching-hints-lamps',
    });
    expect(hints(document)).toEqual({ ttlMs: 0, cacheScope: 'private' });

    // A 2025-11-25 client gets none of these fields.
    const old = await legacy('resources/read', { uri });
    expect(old.contents).toBeDefined();
    expect(Object.keys(old)).not.toContain('ttlMs');
    expect(Object.keys(old)).not.toContain('cacheScope');
  });

  it('a 2025-11-25 list has no hints', async () => {
    const tools = await legacy('tools/list');
    expect(tools.tools).toBeDefined();
    expect(hints(tools)).toEqual({ ttlMs: undefined, cacheScope: undefined });
  });
});
