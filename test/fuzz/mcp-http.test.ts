import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { limits, toolNames } from '@hopper/contracts';
import { edgeNumber, hugeString, junk, nastyString, sometimes } from './support/arbitraries.ts';
import { fuzz, startFuzzStack, type FuzzStack } from './support/fuzz-stack.ts';
import { isRecord, postRaw, rawExchange, type RawReply } from './support/raw-mcp.ts';

/*
 * Malformed JSON-RPC and HTTP on /mcp. Whatever arrives, the answer is typed: a 4xx with a JSON-RPC
 * error, a JSON-RPC message (result or error) on a 200, or an empty 202 for a notification; never
 * a 5xx, a hang or a dead gateway.
 */

const RUNS = 120;

let fx: FuzzStack;

beforeAll(async () => {
  fx = await startFuzzStack(inject('redisUrl'));
});

afterAll(async () => {
  await fx?.stack.stop();
});

/** Every JSON-RPC message in the reply, batch answers flattened. */
function rpcMessages(reply: RawReply): unknown[] {
  return reply.messages.flatMap((m) => (Array.isArray(m) ? (m as unknown[]) : [m]));
}

/** Checks the reply is typed and names it for the tally (`200 rpc error -32602`, `415`, ...). */
function expectTyped(reply: RawReply): string {
  expect(reply.status, reply.text.slice(0, 300)).toBeLessThan(500);
  if (reply.status === 202) {
    expect(reply.text).toBe('');
    return '202 accepted';
  }
  const messages = rpcMessages(reply);
  expect(messages.length, `no JSON-RPC message in: ${reply.text.slice(0, 300)}`).toBeGreaterThan(0);
  const labels = new Set<string>();
  for (const message of messages) {
    if (!isRecord(message)) throw new Error(`not a JSON-RPC message: ${reply.text.slice(0, 300)}`);
    expect(message.jsonrpc).toBe('2.0');
    if (isRecord(message.error)) {
      expect(Number.isInteger(message.error.code), reply.text.slice(0, 300)).toBe(true);
      expect(typeof message.error.message).toBe('string');
      // JSON-RPC's "Internal error": the server failed, not the request.
      expect(message.error.code, reply.text.slice(0, 300)).not.toBe(-32603);
      labels.add(`rpc error ${String(message.error.code)}`);
    } else if ('result' in message) {
      labels.add('result');
    } else if (typeof message.method !== 'string') {
      // Notifications (progress) may precede the answer on a stream; anything else is not JSON-RPC.
      throw new Error(`neither result, error nor notification: ${reply.text.slice(0, 300)}`);
    }
  }
  if (reply.status >= 400) expect(labels.has('result')).toBe(false);
  return `${reply.status} ${[...labels].sort().join('+')}`;
}

const knownMethods = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'logging/setLevel',
  'notifications/initialized',
  'notifications/cancelled',
  'server/discover',
];

/** A member of an envelope: mostly right, sometimes wrong, sometimes missing (`undefined` is left out). */
function member<T>(right: fc.Arbitrary<T>, wrong: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 14, arbitrary: right },
    { weight: 1, arbitrary: wrong },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/** Params shaped for one of the methods (not always the envelope's own), sometimes with `_meta`. */
const params = fc
  .tuple(
    fc.oneof(
      fc.constant({}),
      fc.record({
        name: member(fc.constantFrom(...toolNames), nastyString),
        arguments: member(fc.dictionary(fc.string({ maxLength: 10 }), junk, { maxKeys: 3 }), junk),
      }),
      fc.record({
        uri: member(
          fc.constantFrom('hopper://documents/canary-lighthouse', 'hopper://jobs/x', 'file:///etc/passwd'),
          junk,
        ),
      }),
      fc.record({ cursor: member(fc.string({ maxLength: 20 }), junk) }),
      fc.record({
        protocolVersion: member(fc.constantFrom('2025-11-25', '2025-06-18', '1999-01-01'), junk),
        capabilities: member(fc.constant({}), junk),
        clientInfo: member(fc.constant({ name: 'fuzz', version: '1' }), junk),
      }),
      fc.record({ requestId: junk, reason: junk }),
    ),
    sometimes(fc.oneof(junk, fc.record({ progressToken: junk })), 5),
  )
  .map(([shaped, meta]) => (meta === undefined ? shaped : { ...shaped, _meta: meta }));

/** A JSON-RPC envelope with each member possibly wrong or missing. */
const envelope = fc.record({
  jsonrpc: member(fc.constant('2.0'), fc.constantFrom('1.0', '2', 2, null, '')),
  id: member(
    fc.oneof(fc.integer(), fc.string({ maxLength: 20 })),
    fc.oneof(fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, 2 ** 64, 1e308, 1.5, -0, null), junk),
  ),
  method: member(
    fc.constantFrom(...knownMethods),
    fc.oneof(
      fc.constantFrom('tools/nope', 'rpc.discover', '', '$/cancel', 'notifications/progress'),
      nastyString,
    ),
  ),
  params: member(params, junk),
});

const headerSets = fc.record({
  'content-type': fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
  ),
  accept: fc.constantFrom(
    'application/json, text/event-stream',
    'application/json',
    'text/event-stream',
    '*/*',
    'text/html',
    '',
  ),
  'mcp-protocol-version': fc.constantFrom('', '2025-11-25', '2025-06-18', '2026-07-28', 'garbage'),
  'mcp-session-id': fc.constantFrom('', 'not-a-session', '00000000-0000-0000-0000-000000000000'),
});

/** Drops empty header values (the generator's way to leave a header out). */
function present(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== ''));
}

const validCall = JSON.stringify({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'search', arguments: { query: 'lighthouse' } },
});

/** Bodies that are not JSON, or not quite. */
const brokenText = fc.oneof(
  fc.nat({ max: validCall.length - 1 }).map((n) => validCall.slice(0, n)),
  fc.constantFrom(
    '',
    ' ',
    'null',
    '{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
    '{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
    '{"jsonrpc":"2.0","id":1,"method":"ping",}',
    "{'jsonrpc':'2.0'}",
    '{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}',
    '\uFEFF{"jsonrpc":"2.0","id":1,"method":"ping"}',
    '[' + '['.repeat(5_000) + ']'.repeat(5_000) + ']',
    '{"a":' + '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_001),
    validCall.replace('"lighthouse"', '['.repeat(10_000) + ']'.repeat(10_000)),
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

describe('malformed JSON-RPC on /mcp, generated', () => {
  it('answers any JSON-RPC envelope, single or batched, with a typed reply', async () => {
    const bodies = fc.oneof({ weight: 4, arbitrary: envelope }, fc.array(envelope, { maxLength: 5 }), junk);
    await fuzz(
      'mcp json-rpc envelopes',
      bodies,
      async (body) => expectTyped(await postRaw(fx.stack.url, JSON.stringify(body))),
      RUNS,
    );
    await fx.expectHealthy();
  });

  it('answers bodies that are not JSON, or barely, with a typed reply', async () => {
    await fuzz(
      'mcp broken bodies',
      brokenText,
      async (text) => expectTyped(await postRaw(fx.stack.url, text)),
      RUNS,
    );
    await fx.expectHealthy();
  });

  it('answers any content-type, Accept, protocol version and session header with a typed reply', async () => {
    const requests = fc.tuple(
      headerSets,
      fc.constantFrom('POST', 'POST', 'POST', 'GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'),
      fc.constantFrom(
        validCall,
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
        '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      ),
    );
    await fuzz(
      'mcp headers and methods',
      requests,
      async ([headers, method, body]) => {
        const reply = await postRaw(fx.stack.url, body, present(headers), method);
        return `${method} ${expectTyped(reply)}`;
      },
      RUNS,
    );
    await fx.expectHealthy();
  });

  it('refuses oversized bodies with 413 and keeps serving', async () => {
    const sizes = fc.tuple(hugeString, edgeNumber);
    await fuzz(
      'mcp oversized bodies',
      sizes,
      async ([big, id]) => {
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'search', arguments: { query: big } },
        });
        const reply = await postRaw(fx.stack.url, body);
        const label = expectTyped(reply);
        if (Buffer.byteLength(body) > limits.maxRequestBodyBytes) expect(reply.status).toBe(413);
        return label;
      },
      12,
    );
    await fx.expectHealthy();
  });

  it('survives truncated, stalled and garbled HTTP at the socket level', async () => {
    const head = (length: number | string, extra = '') =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${length}\r\n${extra}\r\n`;
    const exchanges = fc.oneof(
      // A truncated upload: the client half-closes before the body is complete.
      fc
        .nat({ max: validCall.length - 1 })
        .map((n) => ({ bytes: head(validCall.length) + validCall.slice(0, n), end: true })),
      // A stalled upload: the client goes quiet mid-body and then drops the connection.
      fc
        .nat({ max: validCall.length - 1 })
        .map((n) => ({ bytes: head(validCall.length) + validCall.slice(0, n), end: false })),
      fc.constantFrom(
        { bytes: head(limits.maxRequestBodyBytes * 4) + '{', end: true },
        { bytes: head(-1) + validCall, end: true },
        { bytes: head('abc') + validCall, end: true },
        { bytes: head(validCall.length, 'Content-Length: 3\r\n') + validCall, end: true },
        { bytes: head(validCall.length, 'Transfer-Encoding: chunked\r\n') + validCall, end: true },
        {
          bytes: 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n',
          end: true,
        },
        { bytes: 'GARBAGE\r\n\r\n', end: true },
        { bytes: 'POST /mcp HTTP/9.9\r\n\r\n', end: true },
        { bytes: `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, end: true },
      ),
      fc.string({ unit: 'binary', maxLength: 300 }).map((bytes) => ({ bytes, end: true })),
    );
    await fuzz(
      'mcp raw http',
      exchanges,
      async ({ bytes, end }) => {
        const received = await rawExchange(fx.stack.url, bytes, { end, holdMs: end ? 2_000 : 150 });
        const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
        if (status) expect(Number(status), received.slice(0, 300)).toBeLessThan(500);
        return status ?? 'closed without an answer';
      },
      60,
    );
    await fx.expectHealthy();
  });
});
