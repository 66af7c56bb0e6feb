import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { toolNames } from '@hopper/contracts';
import { connectModern, structured } from '../support/clients.ts';
import { EmbeddingsDouble } from '../support/embeddings-double.ts';
import { baseUrl } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: unknown[] }[] };
}
interface JobBody {
  jobId: string;
  state: string;
  documentId?: string;
  chunks?: number;
}
interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required: boolean; schema: { type?: string } }[];
  requestBody?: { content: { 'application/json': { schema: { required?: string[]; properties: object } } } };
  responses: Record<string, unknown>;
}

let stack: TestStack;
let embeddings: EmbeddingsDouble;
let url: string;
let mcp: Client;

async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

beforeAll(async () => {
  embeddings = await EmbeddingsDouble.start();
  stack = await TestStack.start({ redisUrl: inject('redisUrl'), env: embeddings.env });
  url = baseUrl(stack.url);
  mcp = await connectModern(stack.url);
});

afterAll(async () => {
  await mcp?.close();
  await stack?.stop();
  await embeddings?.stop();
});

describe('REST API under /v1', () => {
  it('publishes an OpenAPI 3.1 document with one operation per tool, from the tool schemas', async () => {
    const { status, body } = await api<{
      openapi: string;
      info: { license?: { name: string; identifier?: string } };
      servers?: { url: string }[];
      paths: Record<string, Record<string, Operation>>;
    }>('GET', '/v1/openapi.json');
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    // What Redocly's recommended rules ask for: a server to call and a license statement.
    expect(body.servers).toEqual([{ url: '/', description: expect.any(String) as string }]);
    // Every reference resolves from the document's root (Redocly's no-unresolved-refs).
    const refs = [...JSON.stringify(body).matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const target = ref
        .split('/')
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], body);
      expect(target, ref).toBeDefined();
    }
    expect(body.info.license).toMatchObject({
      name: expect.any(String) as string,
      identifier: expect.any(String) as string,
    });
    const operations = Object.values(body.paths).flatMap((methods) => Object.values(methods));
    expect(operations.map((o) => o.operationId).sort()).toEqual([...toolNames].sort());

    const search = body.paths['/v1/search']?.post;
    expect(search?.requestBody?.content['application/json'].schema.required).toEqual(['query']);
    const listJobs = body.paths['/v1/jobs']?.get;
    expect(listJobs?.parameters?.find((p) => p.name === 'limit')).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer' },
    });
    const getDocument = body.paths['/v1/documents/{documentId}']?.get;
    expect(getDocument?.parameters?.find((p) => p.name === 'documentId')).toMatchObject({
      in: 'path',
      required: true,
    });
  });

  it('ingests, searches, reads, lists and deletes documents, as the tools do', async () => {
    const content = '# Lamps\n\nKeepers trim the wick of the paraffin lamp every evening before dusk.';
    const ingested = await api<JobBody>('POST', '/v1/documents', {
      content,
      documentId: 'notes/lamps',
      collection: 'rest',
    });
    expect(ingested.status).toBe(200);
    expect(ingested.body).toMatchObject({ documentId: 'notes/lamps', state: 'completed', chunks: 1 });

    const found = await api<{ results: { documentId: string; text: string }[] }>('POST', '/v1/search', {
      query: 'trim the wick',
      collection: 'rest',
    });
    expect(found.status).toBe(200);
    expect(found.body.results[0]).toMatchObject({ documentId: 'notes/lamps' });
    // The same call through MCP gives the same results: one handler, two protocols.
    const viaMcp = structured<{ results: unknown[] }>(
      await mcp.callTool({ name: 'search', arguments: { query: 'trim the wick', collection: 'rest' } }),
    );
    expect(found.body.results).toEqual(viaMcp.results);

    // A document id with a slash travels percent-encoded in one path segment.
    const id = encodeURIComponent('notes/lamps');
    const doc = await api<{ documentId: string; version: number }>(
      'GET',
      `/v1/documents/${id}?collection=rest`,
    );
    expect(doc).toMatchObject({ status: 200, body: { documentId: 'notes/lamps', version: 1 } });
    const list = await api<{ documents: { documentId: string }[] }>(
      'GET',
      '/v1/documents?collection=rest&limit=10',
    );
    expect(list.body.documents.map((d) => d.documentId)).toEqual(['notes/lamps']);
    const deleted = await api('DELETE', `/v1/documents/${id}?collection=rest`);
    expect(deleted).toMatchObject({ status: 200, body: { documentId: 'notes/lamps', deleted: true } });
    const gone = await api<ErrorBody>('GET', `/v1/documents/${id}?collection=rest`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: 'not_found' });
  });

  it('queues with wait: false (202 and a Location), and jobs can be read, listed and cancelled', async () => {
    embeddings.delayMs = 150;
    const big = Array.from({ length: 300 }, (_, i) =>
      `Paragraph ${i} about tides and harbours. `.repeat(14),
    ).join('\n\n');
    const queued = await api<JobBody>('POST', '/v1/documents', {
      content: big,
      documentId: 'tides',
      wait: false,
    });
    expect(queued.status).toBe(202);
    expect(queued.headers.get('location')).toBe(`/v1/jobs/${queued.body.jobId}`);

    const job = await api<JobBody & { kind: string }>('GET', `/v1/jobs/${queued.body.jobId}`);
    expect(job).toMatchObject({ status: 200, body: { jobId: queued.body.jobId, kind: 'ingest' } });
    const listed = await api<{ jobs: JobBody[] }>('GET', '/v1/jobs?limit=5');
    expect(listed.body.jobs.map((j) => j.jobId)).toContain(queued.body.jobId);

    const cancelled = await api<JobBody>('POST', `/v1/jobs/${queued.body.jobId}/cancel`);
    expect(cancelled).toMatchObject({ status: 200, body: { jobId: queued.body.jobId, state: 'cancelled' } });
    embeddings.delayMs = 0;
  });

  it('embeds texts', async () => {
    const { status, body } = await api<{ dimensions: number; embeddings: number[][] }>(
      'POST',
      '/v1/embeddings',
      {
        texts: ['harbour', 'lighthouse'],
      },
    );
    expect(status).toBe(200);
    expect(body.embeddings).toHaveLength(2);
    expect(body.embeddings[0]).toHaveLength(body.dimensions);
  });

  it('refuses invalid input before any work, with the problem and where it is', async () => {
    const tooMany = await api<ErrorBody>('POST', '/v1/search', { query: 'x', topK: 500 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.code).toBe('invalid_argument');
    expect(tooMany.body.error.issues?.[0]?.path).toEqual(['topK']);

    // A file's bytes sent as text: refused with a code a program can branch on, and where to send them.
    const png = await api<ErrorBody>('POST', '/v1/documents', {
      content: '\x89PNG\r\n\x1a\n\0\0\0\rIHDR',
      documentId: 'picture',
    });
    expect(png.status).toBe(400);
    expect(png.body.error).toMatchObject({ code: 'invalid_argument' });
    expect(png.body.error.message).toMatch(/content is not text: it looks like a PNG image.*contentBase64/);

    const typo = await api<ErrorBody>('POST', '/v1/search', { query: 'x', top_k: 3 });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toMatch(/top_k/);

    const badLimit = await api<ErrorBody>('GET', '/v1/jobs?limit=many');
    expect(badLimit.status).toBe(400);
    const notJson = await api<ErrorBody>('POST', '/v1/search', '{"query":', {});
    expect(notJson.status).toBe(400);
    const wrongType = await api<ErrorBody>('POST', '/v1/search', 'query=x', { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    const none = await api<ErrorBody>('POST', '/v1/documents', { documentId: 'empty' });
    expect(none.status).toBe(400);
    expect(none.body.error.message).toMatch(/content/);
  });

  it('answers unknown ids, paths and methods clearly', async () => {
    const job = await api<ErrorBody>('GET', '/v1/jobs/ing_nope');
    expect(job).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const path = await api<ErrorBody>('GET', '/v1/nothing-here');
    expect(path.status).toBe(404);
    const method = await api<ErrorBody>('PUT', '/v1/jobs');
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('GET');
  });

  it('refuses requests a page of another site makes a browser send', async () => {
    const foreign = await api<ErrorBody>(
      'POST',
      '/v1/search',
      { query: 'x' },
      { origin: 'http://evil.example' },
    );
    expect(foreign.status).toBe(403);
    const sameOrigin = await api('POST', '/v1/search', { query: 'x' }, { origin: url });
    expect(sameOrigin.status).toBe(200);
  });
});
