import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectLegacy, connectModern, structured, MODERN_PROTOCOL_VERSION } from '../support/clients.ts';
import { eventually } from '../support/faults.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { TestStack, type GatewayHandle } from '../support/stack.ts';

/**
 * The MCP fast path (apps/gateway/src/mcp/fast-path.ts) answers the read-only tools' calls without
 * the SDK: hits from the cache, misses computed by the tool chain. One gateway runs with it, one
 * without (HOPPER_MCP_FAST_PATH=off), on one Redis and one store: an answer must reach the client
 * as the very bytes the SDK path sends, in both protocol eras.
 */
const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const ACME_WRITER = 'acme-writer-key-0123456789';

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let receiver: OtlpReceiver;
let fast: GatewayHandle;
let sdk: GatewayHandle;
let acme: Client;
/** A finished ingest's job, for `get_job`. */
let jobId: string;

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  receiver = await OtlpReceiver.start();
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: {
      ...embeddings.env,
      HOPPER_API_KEYS: `acme:${ACME},globex:${GLOBEX},acme:${ACME_WRITER}:write`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      // Warming re-runs searches after each write, behind the tests' backs: it would move the
      // cache counters the tests read.
      HOPPER_CACHE_WARM_TOP: '0',
    },
  });
  fast = stack.gateways[0]!;
  sdk = await stack.startGateway({ HOPPER_MCP_FAST_PATH: 'off' });
  acme = await connectModern(fast.url, { requestInit: { headers: { authorization: `Bearer ${ACME}` } } });
  for (const [documentId, content] of [
    ['giraffe', 'Giraffes browse acacia leaves on the savanna.'],
    ['okapi', 'The okapi is the giraffe of the rainforest, shy and striped.'],
  ]) {
    const out = structured<{ state: string; jobId: string }>(
      await acme.callTool({ name: 'ingest_document', arguments: { content, documentId, collection: 'zoo' } }),
    );
    expect(out.state).toBe('completed');
    jobId = out.jobId;
  }
});

afterAll(async () => {
  await acme?.close();
  await stack?.stop();
  await embeddings?.stop();
  await receiver?.stop();
});

type Era = 'modern' | 'legacy';

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

const sessions = new Map<string, string>();

/** A legacy session id, from an `initialize` as the v1 client sends it. */
async function legacySession(url: string, key: string): Promise<string> {
  const known = sessions.get(url + key);
  if (known) return known;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  await response.text();
  const session = response.headers.get('mcp-session-id');
  if (!session) throw new Error('initialize gave no session');
  sessions.set(url + key, session);
  return session;
}

/** One raw `tools/call`, as the SDK clients of each era put it on the wire. */
async function call(
  gateway: GatewayHandle,
  era: Era,
  id: number | string,
  args: Record<string, unknown>,
  options: { key?: string | null; tool?: string } = {},
): Promise<Answer> {
  const key = options.key === undefined ? ACME : options.key;
  const tool = options.tool ?? 'search';
  const auth: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...auth,
    ...(era === 'modern'
      ? { 'mcp-protocol-version': MODERN_PROTOCOL_VERSION, 'mcp-method': 'tools/call', 'mcp-name': tool }
      : {
          'mcp-protocol-version': '2025-11-25',
          // Session ids belong to no tenant: one from a valid key serves the refused callers too.
          'mcp-session-id': await legacySession(gateway.url, ACME),
        }),
  };
  const params =
    era === 'modern'
      ? {
          name: tool,
          arguments: args,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        }
      : { name: tool, arguments: args };
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** The structured output inside an answer of either framing. */
function output(answer: Answer): {
  results: { documentId: string }[];
  cached: boolean;
  cacheLayer?: string;
  state?: string;
} {
  const json = answer.body.startsWith('event: message\ndata: ')
    ? answer.body.slice('event: message\ndata: '.length).trimEnd()
    : answer.body;
  return (JSON.parse(json) as { result: { structuredContent: never } }).result.structuredContent;
}

/** The fast path sends a length; the SDK streams its answers chunked. */
const viaFastPath = (answer: Answer) => answer.headers.get('content-length') !== null;

/** The headers a client acts on (not the date, nor how the length is told). */
function meaningfulHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!['date', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)) kept[name] = value;
  });
  return kept;
}

/** A Prometheus sample of the gateway: the line of `name` holding every one of `labels`. */
async function metric(gateway: GatewayHandle, name: string, labels: string[]): Promise<number> {
  const text = await (await fetch(gateway.url.replace(/\/mcp$/, '/metrics'))).text();
  const found = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  return found ? Number(found.slice(found.lastIndexOf(' ') + 1)) : 0;
}

const l1Hits = (gateway: GatewayHandle) =>
  metric(gateway, 'hopper_cache_requests_total', ['cache="result"', 'layer="l1"', 'result="hit"']);

describe('the MCP fast path', () => {
  for (const [era, framing] of [
    ['modern', 'application/json'],
    ['legacy', 'text/event-stream'],
  ] as const) {
    it(`answers a ${era}-era hit (${framing}) with the SDK path's bytes, only the id differing`, async () => {
      const args = { query: `acacia leaves ${era}`, collection: 'zoo', topK: 3 };
      // Each gateway's first call computes or finds L2; the second is an L1 hit.
      await call(fast, era, 1, args);
      await call(sdk, era, 1, args);
      const fromFast = await call(fast, era, 41, args);
      const fromSdk = await call(sdk, era, 'id-42', args);

      expect(viaFastPath(fromFast)).toBe(true);
      expect(viaFastPath(fromSdk)).toBe(false);
      expect(fromFast.status).toBe(200);
      expect(fromSdk.status).toBe(200);
      expect(fromFast.headers.get('content-type')).toBe(framing);
      expect(meaningfulHeaders(fromFast.headers)).toEqual(meaningfulHeaders(fromSdk.headers));
      expect(fromFast.body).toBe(fromSdk.body.replace('"id":"id-42"', '"id":41'));
      expect(output(fromFast)).toMatchObject({ cached: true, cacheLayer: 'l1' });
      expect(output(fromFast).results[0]?.documentId).toBe('giraffe');

      // A string id is spliced in as the SDK writes it.
      const stringId = await call(fast, era, 'a"b', args);
      expect(stringId.body).toBe(fromSdk.body.replace('"id":"id-42"', '"id":"a\\"b"'));
    });
  }

  for (const [era, framing] of [
    ['modern', 'application/json'],
    ['legacy', 'text/event-stream'],
  ] as const) {
    it(`answers a ${era}-era get_job of a finished job (${framing}) with the SDK path's bytes`, async () => {
      const args = { jobId };
      const options = { tool: 'get_job' };
      // Each gateway's first call computes or finds L2; the second is an L1 hit.
      await call(fast, era, 1, args, options);
      await call(sdk, era, 1, args, options);
      const fromFast = await call(fast, era, 51, args, options);
      const fromSdk = await call(sdk, era, 'id-52', args, options);

      expect(viaFastPath(fromFast)).toBe(true);
      expect(viaFastPath(fromSdk)).toBe(false);
      expect(fromFast.status).toBe(200);
      expect(fromFast.headers.get('content-type')).toBe(framing);
      expect(meaningfulHeaders(fromFast.headers)).toEqual(meaningfulHeaders(fromSdk.headers));
      expect(fromFast.body).toBe(fromSdk.body.replace('"id":"id-52"', '"id":51'));
      expect(output(fromFast)).toMatchObject({ state: 'completed', cached: true, cacheLayer: 'l1' });
    });
  }

  /** Ingests one more document into `zoo`: the collection's epoch moves, so every read misses again. */
  async function bumpZoo(documentId: string): Promise<void> {
    const out = structured<{ state: string }>(
      await acme.callTool({
        name: 'ingest_document',
        arguments: { content: `A ${documentId} lives here.`, documentId, collection: 'zoo' },
      }),
    );
    expect(out.state).toBe('completed');
  }

  for (const [era, framing] of [
    ['modern', 'application/json'],
    ['legacy', 'text/event-stream'],
  ] as const) {
    it(`answers a ${era}-era miss (${framing}) with the SDK path's bytes, computing it once`, async () => {
      const args = { documentId: 'giraffe', collection: 'zoo' };
      const options = { tool: 'get_document' };
      await bumpZoo(`walrus-${era}`);
      const fromSdk = await call(sdk, era, 'id-62', args, options);
      expect(output(fromSdk).cached).toBe(false);
      // The SDK path stored its answer; a new epoch makes the fast path's call a miss too.
      await bumpZoo(`seal-${era}`);
      const timed = () =>
        metric(fast, 'hopper_mcp_operation_duration_seconds_count', ['tool="get_document"', 'outcome="ok"']);
      const timedBefore = await timed();
      const fromFast = await call(fast, era, 61, args, options);

      expect(viaFastPath(fromFast)).toBe(true);
      expect(fromFast.status).toBe(200);
      expect(fromFast.headers.get('content-type')).toBe(framing);
      expect(meaningfulHeaders(fromFast.headers)).toEqual(meaningfulHeaders(fromSdk.headers));
      expect(fromFast.body).toBe(fromSdk.body.replace('"id":"id-62"', '"id":61'));
      expect(await timed()).toBe(timedBefore + 1);
      // Stored under the key it missed: the next call is a hit.
      expect(output(await call(fast, era, 63, args, options))).toMatchObject({
        cached: true,
        cacheLayer: 'l1',
      });
    });
  }

  it('answers a miss that fails as the SDK path does, and runs it once', async () => {
    const args = { documentId: 'no-such-animal', collection: 'zoo' };
    const options = { tool: 'get_document' };
    const failures = () =>
      metric(fast, 'hopper_mcp_operation_duration_seconds_count', ['tool="get_document"', 'outcome="error"']);
    const before = await failures();
    for (const era of ['modern', 'legacy'] as const) {
      const fromFast = await call(fast, era, 71, args, options);
      const fromSdk = await call(sdk, era, 'id-72', args, options);
      expect(fromFast.body).toContain('"isError":true');
      expect(fromFast.body).toContain('not_found');
      expect(fromFast.body).toBe(fromSdk.body.replace('"id":"id-72"', '"id":71'));
    }
    expect(await failures()).toBe(before + 2);
  });

  it('traces a miss as the SDK path traces a call', async () => {
    const args = { query: 'giraffe traced miss', collection: 'zoo' };
    expect(viaFastPath(await call(fast, 'modern', 'traced-miss', args))).toBe(true);
    for (;;) {
      const span = receiver.spans.find(
        (s) => s.name === 'tools/call search' && s.attributes['jsonrpc.request.id'] === 'traced-miss',
      );
      if (span) {
        expect(span.attributes).toMatchObject({ 'gen_ai.tool.name': 'search', 'hopper.cache.layer': 'miss' });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it("sends get_job of another tenant's job, or of an unknown job, through the SDK path", async () => {
    await call(fast, 'modern', 1, { jobId }, { tool: 'get_job' });
    const globex = await call(fast, 'modern', 2, { jobId }, { tool: 'get_job', key: GLOBEX });
    expect(viaFastPath(globex)).toBe(false);
    expect(globex.body).toContain('"isError":true');
    const unknown = await call(fast, 'legacy', 3, { jobId: 'no-such-job' }, { tool: 'get_job' });
    expect(viaFastPath(unknown)).toBe(false);
    expect(unknown.body).toContain('"isError":true');
  });

  it('reads Redis once for a miss: one epoch read and one lookup of its entry', async () => {
    // MONITOR over a plain socket: ioredis's own monitor mode can mistake early lines for replies.
    const url = new URL(inject('redisUrl'));
    const monitor = connect(Number(url.port), url.hostname);
    const commands: string[][] = [];
    const isEntry = (key: string | undefined) =>
      key !== undefined && key.includes(':cache:search:') && !key.endsWith(':flight');
    const written = Promise.withResolvers<void>();
    const watching = Promise.withResolvers<void>();
    let pending = '';
    monitor.on('data', (data: Buffer) => {
      pending += data.toString('utf8');
      const lines = pending.split('\r\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '+OK') watching.resolve();
        const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
        if (!args.some((arg) => arg.startsWith(`${stack.prefix}:`))) continue;
        commands.push(args);
        // The entry's write comes after its reads: once it is seen, so are they.
        if (args[0]?.toLowerCase() === 'set' && isEntry(args[1])) written.resolve();
      }
    });
    monitor.write('MONITOR\r\n');
    await watching.promise;
    try {
      const answer = await call(fast, 'modern', 1, { query: 'a miss read once', collection: 'zoo' });
      expect(output(answer).cached).toBe(false);
      await written.promise;
      const lookups = commands.filter(([name, key]) => name?.toLowerCase() === 'get' && isEntry(key));
      const epochReads = commands.filter(
        ([name, ...keys]) =>
          ['get', 'mget'].includes(name?.toLowerCase() ?? '') &&
          keys.some((key) => key.endsWith(':epoch:zoo')),
      );
      expect(lookups).toHaveLength(1);
      expect(epochReads).toHaveLength(1);
    } finally {
      monitor.destroy();
    }
  });

  it('answers an L2 hit the way the SDK path does', async () => {
    const args = { query: 'striped okapi', collection: 'zoo' };
    const entries = () => stack.cachedResults('search');
    const before = (await entries()).length;
    const computed = await call(sdk, 'modern', 1, args);
    expect(output(computed).cached).toBe(false);
    // The computed answer comes back before its write to the shared cache lands: wait for it.
    await eventually(async () => ((await entries()).length > before ? true : undefined));
    const fromL2 = await call(fast, 'modern', 2, args);
    expect(viaFastPath(fromL2)).toBe(true);
    expect(output(fromL2)).toEqual({ ...output(computed), cached: true, cacheLayer: 'l2' });
  });

  it('serves the real SDK clients of both eras from the fast path', async () => {
    const args = { query: 'rainforest', collection: 'zoo' };
    const legacy = await connectLegacy(fast.url, {
      requestInit: { headers: { authorization: `Bearer ${ACME}` } },
    });
    try {
      const first = structured<{ cached: boolean }>(await acme.callTool({ name: 'search', arguments: args }));
      const modernHit = structured<{ cached: boolean; cacheLayer: string }>(
        await acme.callTool({ name: 'search', arguments: args }),
      );
      const legacyHit = structured<{ cached: boolean; cacheLayer: string }>(
        await legacy.callTool({ name: 'search', arguments: args }),
      );
      expect(first.cached).toBe(false);
      expect(modernHit).toMatchObject({ ...first, cached: true, cacheLayer: 'l1' });
      expect(legacyHit).toEqual(modernHit);
    } finally {
      await legacy.close();
    }
  });

  it('never hides a write: the next search after an ingest sees it', async () => {
    const args = { query: 'zebra stripes', collection: 'zoo' };
    await call(fast, 'modern', 1, args);
    const before = await call(fast, 'modern', 2, args);
    expect(viaFastPath(before)).toBe(true);
    expect(output(before).results.map((r) => r.documentId)).not.toContain('zebra');
    const ingested = structured<{ state: string }>(
      await acme.callTool({
        name: 'ingest_document',
        arguments: { content: 'Zebra stripes confuse biting flies.', documentId: 'zebra', collection: 'zoo' },
      }),
    );
    expect(ingested.state).toBe('completed');
    const after = output(await call(fast, 'modern', 3, args));
    expect(after.results[0]?.documentId).toBe('zebra');
  });

  it("never serves another tenant's entry", async () => {
    const args = { query: 'acacia leaves tenants', collection: 'zoo' };
    await call(fast, 'modern', 1, args);
    expect(viaFastPath(await call(fast, 'modern', 2, args))).toBe(true);
    // A miss for globex, computed on the fast path over globex's (empty) part of the store.
    const globex = await call(fast, 'modern', 3, args, { key: GLOBEX });
    expect(viaFastPath(globex)).toBe(true);
    expect(output(globex)).toEqual({ results: [], cached: false });
    const globexAgain = await call(fast, 'legacy', 4, args, { key: GLOBEX });
    expect(viaFastPath(globexAgain)).toBe(true);
    expect(output(globexAgain)).toEqual({ results: [], cached: true, cacheLayer: 'l1' });
  });

  it('refuses a call without valid auth or scope before the cache is read', async () => {
    const args = { query: 'acacia leaves refused', collection: 'zoo' };
    await call(fast, 'modern', 1, args);
    expect(viaFastPath(await call(fast, 'modern', 2, args))).toBe(true);
    const before = await l1Hits(fast);
    for (const era of ['modern', 'legacy'] as const) {
      const anonymous = await call(fast, era, 3, args, { key: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
      const wrong = await call(fast, era, 4, args, { key: 'wrong-key-0123456789abcdef' });
      expect(wrong.status).toBe(401);
      // The same tenant, with a key that may only write.
      const writer = await call(fast, era, 5, args, { key: ACME_WRITER });
      expect(writer.status).toBe(403);
      expect(writer.headers.get('www-authenticate')).toContain('insufficient_scope');
    }
    expect(await l1Hits(fast)).toBe(before);
  });

  it('counts a hit in the cache counters and the per-tool duration histogram', async () => {
    const args = { query: 'savanna', collection: 'zoo' };
    await call(fast, 'modern', 1, args);
    const hits = () => l1Hits(fast);
    const timed = () =>
      metric(fast, 'hopper_mcp_operation_duration_seconds_count', ['tool="search"', 'outcome="ok"']);
    const [hitsBefore, timedBefore] = [await hits(), await timed()];
    const answer = await call(fast, 'legacy', 2, args);
    expect(viaFastPath(answer)).toBe(true);
    expect(await hits()).toBe(hitsBefore + 1);
    expect(await timed()).toBe(timedBefore + 1);
  });

  it('traces a hit as the SDK path traces a call', async () => {
    const args = { query: 'giraffe traced', collection: 'zoo' };
    await call(fast, 'modern', 1, args);
    expect(viaFastPath(await call(fast, 'modern', 'traced-hit', args))).toBe(true);
    for (;;) {
      const span = receiver.spans.find(
        (s) => s.name === 'tools/call search' && s.attributes['jsonrpc.request.id'] === 'traced-hit',
      );
      if (span) {
        expect(span.service).toBe('hopper-gateway');
        expect(span.attributes).toMatchObject({
          'mcp.method.name': 'tools/call',
          'gen_ai.tool.name': 'search',
          'hopper.mcp.era': 'modern',
          'hopper.cache.layer': 'l1',
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('leaves what it does not fully understand to the SDK', async () => {
    const args = { query: 'acacia leaves other', collection: 'zoo' };
    await call(fast, 'modern', 1, args);
    expect(viaFastPath(await call(fast, 'modern', 2, args))).toBe(true);
    // Invalid arguments: the SDK path's tool failure, not a hit of something else.
    const invalid = await call(fast, 'modern', 3, { ...args, topK: -1 });
    expect(viaFastPath(invalid)).toBe(false);
    expect(invalid.body).toContain('"isError":true');
    // A mismatched Mcp-Name header: the SDK's protocol error.
    const response = await fetch(fast.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${ACME}`,
        'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
        'mcp-method': 'tools/call',
        'mcp-name': 'get_document',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: {
          name: 'search',
          arguments: args,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    expect(response.headers.get('content-length')).toBeNull();
    expect(await response.text()).toContain('"error"');
  });
});
