import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClientCredentialsProvider, type Client } from '@modelcontextprotocol/client';
import { AuthorizationServer, type TokenOptions } from '../support/authorization-server.ts';
import {
  connectLegacy,
  connectModern,
  structured,
  toolError,
  type LegacyClient,
} from '../support/clients.ts';
import { TestSocket } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

const API_KEY = 'acme-key-0123456789abcdef';
const READ_ONLY_KEY = 'acme-reader-0123456789abcdef';

let as: AuthorizationServer;
let stack: TestStack;
/** The MCP endpoint's URL, which is also the resource identifier tokens are issued for (`aud`). */
let resource: string;
let origin: string;
let metadataUrl: string;

/** A port nobody listens on, so the resource URL (the tokens' audience) is known before the gateway starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  as = await AuthorizationServer.start();
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  resource = `${origin}/mcp`;
  metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: {
      HOPPER_PORT: String(port),
      HOPPER_OAUTH_ISSUER: as.issuer,
      HOPPER_OAUTH_AUDIENCE: resource,
      // API keys work alongside tokens: a bearer shaped like a JWT is checked as one, anything else as a key.
      HOPPER_API_KEYS: `acme:${API_KEY},acme:${READ_ONLY_KEY}:read`,
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await as?.stop();
});

function token(options: TokenOptions = {}): Promise<string> {
  return as.token(resource, { tenant: 'acme', scope: 'read write', ...options });
}

function modern(bearer: string): Promise<Client> {
  return connectModern(resource, { requestInit: { headers: { authorization: `Bearer ${bearer}` } } });
}

function legacy(bearer: string): Promise<LegacyClient> {
  return connectLegacy(resource, { requestInit: { headers: { authorization: `Bearer ${bearer}` } } });
}

/** A raw MCP tool call, to see the HTTP status and challenge a client gets. */
async function rawCall(bearer: string | undefined, name: string, args: Record<string, unknown>) {
  const response = await fetch(resource, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
  await response.body?.cancel();
  return { status: response.status, challenge: response.headers.get('www-authenticate') };
}

async function rest(method: string, path: string, bearer: string | undefined, body?: unknown) {
  const response = await fetch(`${origin}${path}`, {
    method,
    headers: {
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
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

function insufficientScope(tool: string, scope: string): string {
  return `Bearer error="insufficient_scope", error_description="${tool} needs the ${scope} scope", scope="${scope}", resource_metadata="${metadataUrl}"`;
}

describe('OAuth access tokens (JWT, JWKS)', () => {
  it('publishes protected resource metadata (RFC 9728) at the root and the path-suffixed well-known URL', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
    ]) {
      const response = await fetch(`${origin}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(await response.json()).toEqual({
        resource,
        authorization_servers: [as.issuer],
        scopes_supported: ['read', 'write'],
        bearer_methods_supported: ['header'],
        resource_name: 'Hopper',
      });
    }
  });

  it('answers a request without a token with 401 pointing at the metadata, asking for read first', async () => {
    const expected = `Bearer scope="read", resource_metadata="${metadataUrl}"`;
    expect(await rawCall(undefined, 'search', { query: 'x' })).toEqual({ status: 401, challenge: expected });
    const viaRest = await rest('GET', '/v1/jobs', undefined);
    expect([viaRest.status, viaRest.challenge]).toEqual([401, expected]);
  });

  it('refuses expired, foreign, forged and tenantless tokens with 401 invalid_token', async () => {
    const cases: [string, Promise<string>, RegExp][] = [
      ['expired', token({ expiresIn: -120 }), /has expired/],
      ['another audience', token({ audience: 'https://other.example/mcp' }), /not issued for this server/],
      ['another issuer', token({ issuer: 'https://evil.example' }), /issued by another authorization server/],
      ['a bad signature', token({ forged: true }), /signature is not valid/],
      ['an unknown key id', token({ kid: 'rotated-away' }), /not signed with a key the issuer publishes/],
      ['no tenant', token({ tenant: undefined }), /no hopper_tenant claim/],
      ['a malformed tenant', token({ tenant: 'acme corp' }), /not a tenant id/],
      ['no expiry', token({ expiresIn: null }), /no exp claim/],
      ['not a JWT', Promise.resolve('not-a-jwt-nor-a-key-0123456789'), /API key is not valid/],
    ];
    for (const [label, made, description] of cases) {
      const bad = await made;
      const mcp = await rawCall(bad, 'search', { query: 'x' });
      const viaRest = await rest('POST', '/v1/search', bad, { query: 'x' });
      for (const { status, challenge } of [mcp, viaRest]) {
        expect(status, label).toBe(401);
        expect(challenge, label).toMatch(
          /^Bearer error="invalid_token", error_description="[^"]+", scope="read", resource_metadata="([^"]+)"$/,
        );
        expect(challenge, label).toMatch(description);
        expect(challenge, label).toContain(`resource_metadata="${metadataUrl}"`);
      }
    }
    // A token that expired within the clock tolerance (30 s) still passes.
    expect((await rawCall(await token({ expiresIn: -5 }), 'list_jobs', {})).status).toBe(200);
    // Keys are cached: the unknown key id made one refetch at most, not one per request.
    expect(as.jwksRequests).toBeLessThanOrEqual(2);
  });

  it("takes a valid token to its tenant's data, for both client eras, and keeps tenants apart", async () => {
    const acme = await modern(await token());
    const job = structured<{ jobId: string; state: string }>(
      await acme.callTool({
        name: 'ingest_document',
        arguments: { content: 'Acme rockets burn a secret kerosene blend.', documentId: 'fuel' },
      }),
    );
    expect(job.state).toBe('completed');

    // The same tenant through a legacy (v1 SDK) client with an Okta-style `scp` list, and by API key.
    const viaLegacy = await legacy(await token({ scope: undefined, claims: { scp: ['read'] } }));
    const found = structured<{ results: { documentId: string }[] }>(
      await viaLegacy.callTool({ name: 'search', arguments: { query: 'secret kerosene blend' } }),
    );
    expect(found.results[0]?.documentId).toBe('fuel');
    const byKey = await modern(API_KEY);
    expect(
      structured<{ state: string }>(
        await byKey.callTool({ name: 'get_job', arguments: { jobId: job.jobId } }),
      ).state,
    ).toBe('completed');

    // A token for another tenant finds nothing of acme's.
    const globex = await modern(await token({ tenant: 'globex' }));
    expect(
      toolError(await globex.callTool({ name: 'get_document', arguments: { documentId: 'fuel' } })),
    ).toMatch(/not found/);
    expect(toolError(await globex.callTool({ name: 'get_job', arguments: { jobId: job.jobId } }))).toMatch(
      /not found/,
    );
    const theirs = structured<{ results: unknown[] }>(
      await globex.callTool({ name: 'search', arguments: { query: 'secret kerosene blend' } }),
    );
    expect(theirs.results).toEqual([]);
    await Promise.all([acme.close(), viaLegacy.close(), byKey.close(), globex.close()]);
  });

  it('lets a read-only token search but not ingest, delete or cancel over MCP (403 insufficient_scope)', async () => {
    const writer = await modern(await token());
    const job = structured<{ jobId: string }>(
      await writer.callTool({
        name: 'ingest_document',
        arguments: { content: 'Lighthouse keepers log the weather at dawn.', documentId: 'keepers' },
      }),
    );
    const readOnly = await token({ scope: 'read' });
    const reader = await modern(readOnly);
    const found = structured<{ results: { documentId: string }[] }>(
      await reader.callTool({ name: 'search', arguments: { query: 'keepers log the weather' } }),
    );
    expect(found.results[0]?.documentId).toBe('keepers');

    const refusals: [string, Record<string, unknown>][] = [
      ['ingest_document', { content: 'overwrite', documentId: 'keepers' }],
      ['delete_document', { documentId: 'keepers' }],
      ['cancel_job', { jobId: job.jobId }],
    ];
    for (const [name, args] of refusals) {
      expect(await rawCall(readOnly, name, args)).toEqual({
        status: 403,
        challenge: insufficientScope(name, 'write'),
      });
      await expect(reader.callTool({ name, arguments: args })).rejects.toThrow(
        `Insufficient scope: required "write"`,
      );
    }
    const legacyReader = await legacy(readOnly);
    await expect(
      legacyReader.callTool({ name: 'delete_document', arguments: { documentId: 'keepers' } }),
    ).rejects.toThrow(/insufficient_scope/);
    // A token with no Hopper scope at all cannot read either.
    expect((await rawCall(await token({ scope: 'openid' }), 'search', { query: 'x' })).challenge).toBe(
      insufficientScope('search', 'read'),
    );

    // Nothing was changed by the refused calls.
    const kept = structured<{ documentId: string; version: number }>(
      await writer.callTool({ name: 'get_document', arguments: { documentId: 'keepers' } }),
    );
    expect(kept.version).toBe(1);
    await Promise.all([writer.close(), reader.close(), legacyReader.close()]);
  });

  it('applies the same scopes to REST, for tokens and read-only API keys', async () => {
    const readOnly = await token({ scope: 'read' });
    for (const bearer of [readOnly, READ_ONLY_KEY]) {
      expect((await rest('POST', '/v1/search', bearer, { query: 'weather' })).status).toBe(200);
      const ingest = await rest('POST', '/v1/documents', bearer, { content: 'no', documentId: 'refused' });
      expect([ingest.status, ingest.challenge]).toEqual([403, insufficientScope('ingest_document', 'write')]);
      expect(ingest.body).toEqual({
        error: { code: 'insufficient_scope', message: 'ingest_document needs the write scope' },
      });
      const del = await rest('DELETE', '/v1/documents/keepers', bearer);
      expect([del.status, del.challenge]).toEqual([403, insufficientScope('delete_document', 'write')]);
      const cancel = await rest('POST', '/v1/jobs/some-job/cancel', bearer);
      expect([cancel.status, cancel.challenge]).toEqual([403, insufficientScope('cancel_job', 'write')]);
    }
    // A write-only token can ingest but not read.
    const writeOnly = await token({ scope: 'write' });
    expect(
      (
        await rest('POST', '/v1/documents', writeOnly, {
          content: 'Tides turn twice a day.',
          documentId: 'tides',
        })
      ).status,
    ).toBe(200);
    const read = await rest('GET', '/v1/documents/tides', writeOnly);
    expect([read.status, read.challenge]).toEqual([403, insufficientScope('get_document', 'read')]);
  });

  it('applies the scopes to Socket.IO: following jobs needs read, cancelling needs write', async () => {
    const { jobId } = (
      await rest('POST', '/v1/documents', await token(), {
        content: 'Gulls follow the boats.',
        documentId: 'gulls',
      })
    ).body as { jobId: string };
    const reader = await TestSocket.connect(origin, { token: await token({ scope: 'read' }) });
    expect(await reader.subscribe(jobId)).toEqual({ ok: true });
    expect(await reader.cancel(jobId)).toEqual({
      ok: false,
      error: { code: 'insufficient_scope', message: 'cancelling a job needs the write scope' },
    });
    const writer = await TestSocket.connect(origin, { token: await token({ scope: 'write' }) });
    expect(await writer.subscribe(jobId)).toEqual({
      ok: false,
      error: { code: 'insufficient_scope', message: 'following jobs needs the read scope' },
    });
    expect(await writer.cancel(jobId)).toMatchObject({ ok: true, job: { jobId } });
    reader.close();
    writer.close();

    await expect(TestSocket.connect(origin, { token: await token({ expiresIn: -120 }) })).rejects.toThrow(
      /expired/,
    );
  });

  it('closes a socket when its token expires, saying why', async () => {
    const socket = await TestSocket.connect(origin, { token: await token({ expiresIn: 2 }) });
    const reason = await new Promise<string>((resolve) => socket.socket.once('disconnect', resolve));
    expect(reason).toBe('io server disconnect');
    expect(socket.events.filter((e) => e.name === 'unauthorized').map((e) => e.payload)).toEqual([
      { code: 'invalid_token', message: 'the token has expired' },
    ]);
  });

  it('lets an SDK client discover the authorization server, get a token and step up its scope', async () => {
    as.clients.set('indexer', { secret: 'indexer-secret', tenant: 'acme', scopes: ['read', 'write'] });
    const provider = new ClientCredentialsProvider({
      clientId: 'indexer',
      clientSecret: 'indexer-secret',
      scope: 'read',
      expectedIssuer: as.issuer,
    });
    const client = await connectModern(resource, { authProvider: provider });
    // 401 → protected resource metadata → authorization server metadata → a token with the scope
    // the challenge named (read), not every scope the metadata lists.
    const found = structured<{ results: { documentId: string }[] }>(
      await client.callTool({ name: 'search', arguments: { query: 'keepers log the weather' } }),
    );
    expect(found.results[0]?.documentId).toBe('keepers');
    expect(provider.tokens()?.scope).toBe('read');
    // 403 insufficient_scope → a new token with read and write → the call goes through.
    const ingested = structured<{ state: string }>(
      await client.callTool({
        name: 'ingest_document',
        arguments: { content: 'Indexers add documents at night.', documentId: 'night' },
      }),
    );
    expect(ingested.state).toBe('completed');
    expect(provider.tokens()?.scope?.split(' ').sort()).toEqual(['read', 'write']);
    await client.close();
  });

  it('answers 503, not 401, while the authorization server cannot be reached', async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const isolated = await TestStack.start({
      redisUrl: inject('redisUrl'),
      workers: 0,
      env: { HOPPER_OAUTH_ISSUER: unreachable, HOPPER_OAUTH_AUDIENCE: resource },
    });
    try {
      const response = await fetch(isolated.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${await as.token(resource, { tenant: 'acme', scope: 'read', issuer: unreachable })}`,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
      // The client keeps its token: the fault is not the token's.
      expect(response.status).toBe(503);
      expect(response.headers.get('www-authenticate')).toBeNull();
      expect(await response.text()).toMatch(/authorization server could not be reached/);
      const viaRest = await fetch(isolated.url.replace('/mcp', '/v1/jobs'), {
        headers: {
          authorization: `Bearer ${await as.token(resource, { tenant: 'acme', issuer: unreachable })}`,
        },
      });
      expect(viaRest.status).toBe(503);
    } finally {
      await isolated.stop();
    }
  });
});
