import { describe, expect, it } from 'vitest';
import { ProtocolError } from '@modelcontextprotocol/client';
import { structured } from '../support/clients.ts';
import { useStackWithEmbeddings } from '../support/stack-fixture.ts';

const fixture = useStackWithEmbeddings();

/** A JSON-RPC request as an older client posts it (no handshake needed on this stateless endpoint). */
function postMcp(body: string | Buffer): Promise<Response> {
  return fetch(new URL('/mcp', fixture.stack.url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

function postRest(path: string, body: string | Buffer): Promise<Response> {
  return fetch(new URL(path, fixture.stack.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

function searchCall(params: string): string {
  return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":${params}}`;
}

/** `{"k0":0,"k1":1,...}` with `count` keys. */
function manyKeys(count: number): string {
  return `{${Array.from({ length: count }, (_, i) => `"k${i}":${i}`).join(',')}}`;
}

async function jsonRpcError(response: Response): Promise<{ code: number; message: string }> {
  const body = (await response.json()) as { error?: { code: number; message: string } };
  if (!body.error) throw new Error(`expected a JSON-RPC error, got ${JSON.stringify(body)}`);
  return body.error;
}

describe('request params are bounded before any work', () => {
  it('refuses a _meta of 150,000 keys at once, and /healthz stays quick while 8 arrive together', async () => {
    const flood = searchCall(
      `{"name":"search","arguments":{"query":"lanterns"},"_meta":${manyKeys(150_000)}}`,
    );
    expect(flood.length).toBeGreaterThan(2_000_000);

    // The same probe with nothing else going on, for the figure printed below.
    let quiet = 0;
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      await fetch(new URL('/healthz', fixture.stack.url));
      quiet = Math.max(quiet, performance.now() - started);
    }
    let slowest = 0;
    let flooding = true;
    const health = (async () => {
      while (flooding) {
        const started = performance.now();
        const answer = await fetch(new URL('/healthz', fixture.stack.url));
        expect(answer.status).toBe(200);
        slowest = Math.max(slowest, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const started = performance.now();
    const floodBytes = Buffer.from(flood);
    await fetch(new URL('/metrics', fixture.stack.url)); // starts the gateway's lag window afresh
    const answers = await Promise.all(Array.from({ length: 8 }, () => postMcp(floodBytes)));
    const elapsed = performance.now() - started;
    flooding = false;
    await health;
    const lag = /^nodejs_eventloop_lag_max_seconds(?:{[^}]*})? (\S+)/m.exec(
      await (await fetch(new URL('/metrics', fixture.stack.url))).text(),
    )?.[1];

    console.log(
      `8 concurrent requests with a 150k-key _meta (${(flood.length / 1e6).toFixed(1)} MB each): answered in ` +
        `${Math.round(elapsed)} ms; slowest /healthz ${Math.round(slowest)} ms (${Math.round(quiet)} ms without them); ` +
        `the gateway's longest event-loop delay ${Math.round(Number(lag) * 1000)} ms`,
    );
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      const error = await jsonRpcError(answer);
      expect(error.code).toBe(-32602);
      expect(error.message).toMatch(/more than 10000 keys and array items/);
    }
    // The gateway still serves real calls.
    const out = structured<{ results: unknown[] }>(
      await fixture.client.callTool({ name: 'search', arguments: { query: 'lanterns' } }),
    );
    expect(out.results).toEqual([]);
  });

  it('refuses a _meta over its byte limit, and params with too many keys in all', async () => {
    const bigMeta = searchCall(
      `{"name":"search","arguments":{"query":"q"},"_meta":{"note":"${'x'.repeat(70_000)}"}}`,
    );
    const error = await jsonRpcError(await postMcp(bigMeta));
    expect(error).toMatchObject({ code: -32602 });
    expect(error.message).toMatch(/params\._meta is over 65536 bytes/);

    // 30 objects of 500 keys: each small, together past the request's 10,000.
    const spread = `{"name":"search","arguments":{"query":"q","filter":{${Array.from(
      { length: 30 },
      (_, i) => `"f${i}":${manyKeys(500)}`,
    ).join(',')}}}}`;
    const many = await jsonRpcError(await postMcp(searchCall(spread)));
    // Fewer than the request's limit, all in _meta: its own bound refuses them.
    const metaKeys = await jsonRpcError(
      await postMcp(searchCall(`{"name":"search","arguments":{"query":"q"},"_meta":${manyKeys(5_000)}}`)),
    );
    expect(metaKeys).toMatchObject({ code: -32602, message: 'params._meta has more than 64 keys' });
    expect(many).toMatchObject({ code: -32602 });
    expect(many.message).toMatch(/more than 10000 keys and array items/);
  });

  it('refuses lone surrogates and invalid UTF-8 in MCP calls, naming where they are', async () => {
    // The official client escapes a lone surrogate as `\ud800`, valid JSON that is not valid Unicode.
    const refused: unknown = await fixture.client
      .callTool({ name: 'ingest_document', arguments: { content: 'half a pair: \ud800!', documentId: 'x' } })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect(refused).toMatchObject({ code: -32602 });
    expect((refused as Error).message).toMatch(
      /params\.arguments\.content holds a lone surrogate \(\\ud800\)/,
    );

    const before = Buffer.from(searchCall('{"name":"search","arguments":{"query":"caf').slice(0, -1));
    const bytes = Buffer.concat([before, Buffer.from([0xc3, 0x28]), Buffer.from('"}}}')]); // é cut short
    const error = await jsonRpcError(await postMcp(bytes));
    expect(error.code).toBe(-32602);
    expect(error.message).toContain(`not valid UTF-8 at byte ${before.length}`);

    // A lone surrogate in a key is refused too.
    const inKey = await jsonRpcError(
      await postMcp(searchCall('{"name":"search","arguments":{"query":"q"},"_meta":{"a\\udc00":1}}')),
    );
    expect(inKey.message).toMatch(/params\._meta holds a lone surrogate \(\\udc00\) in a key/);
  });

  it('applies the same bounds to REST bodies', async () => {
    const surrogate = await postRest('/v1/search', '{"query":"lantern \\ud83d"}');
    expect(surrogate.status).toBe(400);
    expect(await surrogate.json()).toEqual({
      error: {
        code: 'invalid_argument',
        message: expect.stringMatching(/query holds a lone surrogate/) as string,
      },
    });

    const invalid = await postRest(
      '/v1/search',
      Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xff]), Buffer.from('"}')]),
    );
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { message: string } }).error.message).toMatch(
      /not valid UTF-8 at byte 10/,
    );

    const keys = await postRest('/v1/search', `{"query":"q","filter":${manyKeys(20_000)}}`);
    expect(keys.status).toBe(400);
    expect(((await keys.json()) as { error: { message: string } }).error.message).toMatch(
      /more than 10000 keys and array items/,
    );
  });
});
