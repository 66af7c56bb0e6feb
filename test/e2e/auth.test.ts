import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { io } from 'socket.io-client';
import { connectModern, structured, toolError } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';

let stack: TestStack;

beforeAll(async () => {
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: { HOPPER_API_KEYS: `acme:${ACME},globex:${GLOBEX}` },
  });
});

afterAll(async () => {
  await stack?.stop();
});

function connect(key: string): Promise<Client> {
  return connectModern(stack.url, { requestInit: { headers: { authorization: `Bearer ${key}` } } });
}

describe('API keys and tenants', () => {
  it('refuses MCP and REST calls without a valid key, with 401 and a Bearer challenge', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    for (const authorization of [undefined, 'Bearer wrong-key-0123456789', `Basic ${ACME}`]) {
      const response = await fetch(stack.url, {
        method: 'POST',
        headers: { ...headers, ...(authorization ? { authorization } : {}) },
        body,
      });
      expect(response.status).toBe(401);
      // A key that was given but is wrong is `invalid_token`; no key at all is a bare challenge.
      expect(response.headers.get('www-authenticate')).toBe(
        authorization?.startsWith('Bearer')
          ? 'Bearer error="invalid_token", error_description="the API key is not valid"'
          : 'Bearer',
      );
    }
    const rest = await fetch(stack.url.replace('/mcp', '/v1/jobs'));
    expect(rest.status).toBe(401);
    expect(rest.headers.get('www-authenticate')).toBe('Bearer');
    // Without OAuth there is no authorization server to advertise.
    const metadata = await fetch(stack.url.replace('/mcp', '/.well-known/oauth-protected-resource'));
    expect(metadata.status).toBe(404);
  });

  it("keeps each tenant's documents, jobs and searches to itself", async () => {
    const acme = await connect(ACME);
    const globex = await connect(GLOBEX);
    const job = structured<{ jobId: string }>(
      await acme.callTool({
        name: 'ingest_document',
        arguments: { content: 'Acme rockets use a secret fuel mixture.', documentId: 'fuel' },
      }),
    );

    // The owner sees everything.
    expect(
      structured<{ documentId: string }>(
        await acme.callTool({ name: 'get_document', arguments: { documentId: 'fuel' } }),
      ).documentId,
    ).toBe('fuel');
    const found = structured<{ results: { documentId: string }[] }>(
      await acme.callTool({ name: 'search', arguments: { query: 'secret fuel mixture' } }),
    );
    expect(found.results[0]?.documentId).toBe('fuel');

    // Another tenant guessing the ids finds nothing, and cannot cancel or delete.
    expect(
      toolError(await globex.callTool({ name: 'get_document', arguments: { documentId: 'fuel' } })),
    ).toMatch(/not found/);
    expect(toolError(await globex.callTool({ name: 'get_job', arguments: { jobId: job.jobId } }))).toMatch(
      /not found/,
    );
    expect(toolError(await globex.callTool({ name: 'cancel_job', arguments: { jobId: job.jobId } }))).toMatch(
      /not found/,
    );
    const theirs = structured<{ results: unknown[] }>(
      await globex.callTool({ name: 'search', arguments: { query: 'secret fuel mixture' } }),
    );
    expect(theirs.results).toEqual([]);
    const deleted = structured<{ deleted: boolean }>(
      await globex.callTool({ name: 'delete_document', arguments: { documentId: 'fuel' } }),
    );
    expect(deleted.deleted).toBe(false);
    // Its own job list holds only its own (delete) job.
    const listed = structured<{ jobs: { jobId: string; kind: string }[] }>(
      await globex.callTool({ name: 'list_jobs', arguments: {} }),
    );
    expect(listed.jobs.map((j) => j.kind)).toEqual(['delete']);
    expect(listed.jobs.map((j) => j.jobId)).not.toContain(job.jobId);

    // The same content ingested by the other tenant is its own job and its own document.
    const theirJob = structured<{ jobId: string; state: string }>(
      await globex.callTool({
        name: 'ingest_document',
        arguments: { content: 'Acme rockets use a secret fuel mixture.', documentId: 'fuel' },
      }),
    );
    expect(theirJob.jobId).not.toBe(job.jobId);
    expect(theirJob.state).toBe('completed');
    expect(
      structured<{ documentId: string }>(
        await acme.callTool({ name: 'get_document', arguments: { documentId: 'fuel' } }),
      ).documentId,
    ).toBe('fuel');
    await acme.close();
    await globex.close();
  });

  it('refuses a Socket.IO handshake without a valid key', async () => {
    const origin = stack.url.replace('/mcp', '');
    for (const auth of [{}, { token: 'wrong-key-0123456789' }]) {
      const socket = io(origin, { path: '/socket.io', transports: ['websocket'], auth, reconnection: false });
      const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
      expect(error.message).toMatch(/key/i);
      socket.close();
    }
    const socket = io(origin, {
      path: '/socket.io',
      transports: ['websocket'],
      auth: { token: ACME },
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    socket.close();
  });
});
