import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { AuthorizationServer, type TokenOptions } from '../support/authorization-server.ts';
import { connectModern, structured, toolError } from '../support/clients.ts';
import { TestSocket } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

const API_KEY = 'acme-key-0123456789abcdef';
/** Hopper's client at the authorization server; the secret needs form-encoding before Basic. */
const CLIENT_ID = 'hopper-gateway';
const CLIENT_SECRET = 'gateway secret: with+odd%chars';
const INACTIVE = 'the token has been revoked or is no longer active';

let as: AuthorizationServer;
let stack: TestStack;
/** The MCP endpoint's URL, which is also the resource identifier tokens are issued for (`aud`). */
let resource: string;
let origin: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  as = await AuthorizationServer.start();
  as.resourceServers.set(CLIENT_ID, CLIENT_SECRET);
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  resource = `${origin}/mcp`;
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: {
      HOPPER_PORT: String(port),
      HOPPER_OAUTH_ISSUER: as.issuer,
      HOPPER_OAUTH_AUDIENCE: resource,
      // No introspection URL: the gateway finds the endpoint in the issuer's metadata.
      HOPPER_OAUTH_CLIENT_ID: CLIENT_ID,
      HOPPER_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
      HOPPER_OAUTH_INTROSPECTION_CACHE_SECONDS: '1',
      HOPPER_API_KEYS: `acme:${API_KEY}`,
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await as?.stop();
});

function jwt(options: TokenOptions = {}): Promise<string> {
  return as.token(resource, { tenant: 'acme', scope: 'read write', ...options });
}

function opaque(options: Omit<TokenOptions, 'forged' | 'kid'> = {}): string {
  return as.opaqueToken(resource, { tenant: 'acme', scope: 'read write', ...options });
}

function modern(bearer: string, url = resource): Promise<Client> {
  return connectModern(url, { requestInit: { headers: { authorization: `Bearer ${bearer}` } } });
}

/** A raw MCP tool call, to see the HTTP status and challenge a client gets. */
async function rawCall(bearer: string, name: string, args: Record<string, unknown>, url = resource) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${bearer}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
  const text = await response.text();
  return { status: response.status, challenge: response.headers.get('www-authenticate'), text };
}

async function rest(method: string, path: string, bearer: string, body?: unknown, base = origin) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** The 401 challenge of a refused token with this description. */
function invalidToken(description: string): string {
  return `Bearer error="invalid_token", error_description="${description}", scope="read", resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`;
}

/**
 * Polls a REST call with the token until it is no longer accepted, for at most `withinMs` (the
 * cache window of 1 s, with room for a loaded machine); fails the test if it stays accepted.
 */
async function untilRefused(bearer: string, withinMs: number) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await rest('GET', '/v1/jobs', bearer);
    if (answer.status !== 200) return answer;
    if (Date.now() > deadline)
      throw new Error(`the token was still accepted ${withinMs} ms after revocation`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)),
  ]);
}

/** Gateway log lines (JSON) whose message matches. */
function logged(level: number, message: RegExp): string[] {
  return (stack.gateways[0]?.lines ?? []).filter((line) => {
    const entry = JSON.parse(line) as { level?: number; msg?: string };
    return entry.level === level && message.test(entry.msg ?? '');
  });
}

describe('OAuth token introspection (RFC 7662)', () => {
  it('refuses a revoked JWT within the cache window over MCP and REST, while an unrevoked one keeps working', async () => {
    const revoked = await jwt();
    const kept = await jwt();
    const doomed = await modern(revoked);
    const other = await modern(kept);
    for (const [client, bearer] of [
      [doomed, revoked],
      [other, kept],
    ] as const) {
      expect(structured(await client.callTool({ name: 'list_jobs', arguments: {} }))).toHaveProperty('jobs');
      expect((await rest('GET', '/v1/jobs', bearer)).status).toBe(200);
    }

    as.revoke(revoked);
    const refused = await untilRefused(revoked, 5_000);
    expect([refused.status, refused.challenge]).toEqual([401, invalidToken(INACTIVE)]);
    expect(await rawCall(revoked, 'search', { query: 'x' })).toMatchObject({
      status: 401,
      challenge: invalidToken(INACTIVE),
    });
    await expect(doomed.callTool({ name: 'list_jobs', arguments: {} })).rejects.toThrow();

    expect(structured(await other.callTool({ name: 'list_jobs', arguments: {} }))).toHaveProperty('jobs');
    expect((await rest('GET', '/v1/jobs', kept)).status).toBe(200);
    await Promise.all([doomed.close(), other.close()]);
  });

  it("takes an opaque token to its tenant's data with its scopes, and refuses unknown ones", async () => {
    const writer = opaque();
    const client = await modern(writer);
    const ingested = structured<{ state: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'Opaque tokens carry nothing readable.', documentId: 'opaque-doc' },
      }),
    );
    expect(ingested.state).toBe('completed');

    const reader = opaque({ scope: 'read' });
    const found = await rest('POST', '/v1/search', reader, { query: 'opaque tokens readable' });
    expect(found.status).toBe(200);
    expect((found.body.results as { documentId: string }[])[0]?.documentId).toBe('opaque-doc');
    const ingest = await rest('POST', '/v1/documents', reader, { content: 'no', documentId: 'refused' });
    expect([ingest.status, ingest.body.error]).toEqual([
      403,
      { code: 'insufficient_scope', message: 'ingest_document needs the write scope' },
    ]);
    expect((await rawCall(reader, 'ingest_document', { content: 'no', documentId: 'refused' })).status).toBe(
      403,
    );

    // Another tenant's opaque token finds nothing of acme's.
    const globex = await modern(opaque({ tenant: 'globex' }));
    expect(
      toolError(await globex.callTool({ name: 'get_document', arguments: { documentId: 'opaque-doc' } })),
    ).toMatch(/not found/);

    const neither = 'the bearer token is neither a valid API key nor an active access token';
    const refusals: [string, string, string][] = [
      ['unknown', 'hopper_at_nobody-issued-this-one', neither],
      ['expired', opaque({ expiresIn: -120 }), neither],
      [
        'for another audience',
        opaque({ audience: 'https://other.example/mcp' }),
        'the token was not issued for this server (aud)',
      ],
      [
        'a refresh token',
        opaque({ claims: { token_type: 'refresh_token' } }),
        'a refresh token is not an access token',
      ],
      [
        'without a tenant',
        opaque({ tenant: undefined }),
        'the token carries no hopper_tenant claim naming its tenant',
      ],
    ];
    for (const [label, bearer, description] of refusals) {
      const viaRest = await rest('GET', '/v1/jobs', bearer);
      expect([viaRest.status, viaRest.challenge], label).toEqual([401, invalidToken(description)]);
      expect((await rawCall(bearer, 'list_jobs', {})).status, label).toBe(401);
    }
    const revoked = opaque();
    expect((await rest('GET', '/v1/jobs', revoked)).status).toBe(200);
    as.revoke(revoked);
    expect((await untilRefused(revoked, 5_000)).challenge).toBe(invalidToken(neither));

    // API keys still work, and never leave the gateway: the key is looked up before introspection.
    expect((await rest('GET', '/v1/jobs', API_KEY)).status).toBe(200);
    expect((await rawCall(API_KEY, 'list_jobs', {})).status).toBe(200);
    expect(as.introspectionsOf(API_KEY)).toBe(0);
    await Promise.all([client.close(), globex.close()]);
  });

  it('answers 503, not 401, while the introspection endpoint fails, and never accepts the token meanwhile', async () => {
    const started = Date.now();
    const bearers = [await jwt(), opaque()];
    try {
      for (const fault of ['drop', 'error', 'html', 'hang'] as const) {
        as.introspectionFault = fault;
        // A hung endpoint costs each request the 5 s timeout: one token is enough to show it.
        for (const bearer of fault === 'hang' ? bearers.slice(0, 1) : bearers) {
          const viaRest = await rest('GET', '/v1/jobs', bearer);
          expect([viaRest.status, viaRest.challenge], fault).toEqual([503, null]);
          expect(JSON.stringify(viaRest.body), fault).toMatch(
            /could not be reached to check the token; retry shortly/,
          );
          if (fault !== 'hang') {
            const mcp = await rawCall(bearer, 'list_jobs', {});
            expect([mcp.status, mcp.challenge], fault).toEqual([503, null]);
          }
        }
      }
    } finally {
      as.introspectionFault = undefined;
    }
    // The failures were not remembered as refusals: the same tokens work once the server answers.
    for (const bearer of bearers) expect((await rest('GET', '/v1/jobs', bearer)).status).toBe(200);
    // One warning per 10 s at most, however many requests failed.
    await expect
      .poll(() => logged(40, /could not introspect an access token/).length)
      .toBeGreaterThanOrEqual(1);
    const warnings = logged(40, /could not introspect an access token/).length;
    expect(warnings).toBeGreaterThanOrEqual(1);
    expect(warnings).toBeLessThanOrEqual(Math.floor((Date.now() - started) / 10_000) + 1);
  });

  it("answers 503 and logs an error when the authorization server refuses the gateway's own credentials", async () => {
    as.resourceServers.set(CLIENT_ID, 'rotated-elsewhere');
    try {
      for (const bearer of [await jwt(), opaque(), await jwt()]) {
        const viaRest = await rest('GET', '/v1/jobs', bearer);
        expect([viaRest.status, viaRest.challenge]).toEqual([503, null]);
      }
    } finally {
      as.resourceServers.set(CLIENT_ID, CLIENT_SECRET);
    }
    // Logged once for the three refusals (at most once per 10 s). The log reaches the test over a
    // pipe, not the HTTP connection: wait for the first line before counting.
    const refused = /refuses Hopper's client credentials/;
    await expect.poll(() => logged(50, refused).length).toBeGreaterThanOrEqual(1);
    expect(logged(50, refused)).toHaveLength(1);
  });

  it('disconnects a Socket.IO client whose token is revoked, saying why, and keeps the others', async () => {
    const revoked = await jwt();
    const doomed = await TestSocket.connect(origin, { token: revoked });
    const kept = await TestSocket.connect(origin, { token: opaque() });
    expect(await doomed.subscribeFeed()).toMatchObject({ ok: true });
    const disconnected = new Promise<string>((resolve) => doomed.socket.once('disconnect', resolve));

    as.revoke(revoked);
    expect(await within(5_000, disconnected, 'the socket was not disconnected')).toBe('io server disconnect');
    expect(doomed.events.filter((e) => e.name === 'unauthorized').map((e) => e.payload)).toEqual([
      { code: 'invalid_token', message: INACTIVE },
    ]);
    expect(doomed.invalid).toEqual([]);
    // The other socket outlived a few re-checks of its own token.
    expect(kept.socket.connected).toBe(true);
    expect(await kept.subscribeFeed()).toMatchObject({ ok: true });
    kept.close();
  });
});

describe('introspection answers are cached', () => {
  it('asks the authorization server once per token within the window, a burst of parallel requests included', async () => {
    // A gateway of its own with the default window (30 s) and the endpoint configured, not discovered.
    const isolated = await TestStack.start({
      redisUrl: inject('redisUrl'),
      workers: 0,
      env: {
        HOPPER_OAUTH_ISSUER: as.issuer,
        HOPPER_OAUTH_AUDIENCE: resource,
        HOPPER_OAUTH_INTROSPECTION_URL: `${as.issuer}/introspect`,
        HOPPER_OAUTH_CLIENT_ID: CLIENT_ID,
        HOPPER_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
      },
    });
    try {
      const base = isolated.url.replace(/\/mcp$/, '');
      for (const bearer of [await jwt(), opaque()]) {
        const parallel = await Promise.all(
          Array.from({ length: 8 }, () => rest('GET', '/v1/jobs', bearer, undefined, base)),
        );
        expect(parallel.map((r) => r.status)).toEqual(Array(8).fill(200));
        const client = await modern(bearer, isolated.url);
        for (let i = 0; i < 5; i += 1) {
          structured(await client.callTool({ name: 'list_jobs', arguments: {} }));
          expect((await rest('GET', '/v1/jobs', bearer, undefined, base)).status).toBe(200);
        }
        await client.close();
        expect(as.introspectionsOf(bearer)).toBe(1);
      }
    } finally {
      await isolated.stop();
    }
  });
});
