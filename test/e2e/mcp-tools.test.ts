import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { toolNames } from '@hopper/contracts';
import {
  connectLegacy,
  connectModern,
  MODERN_PROTOCOL_VERSION,
  structured,
  toolError,
  type LegacyClient,
} from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

interface IngestOut {
  jobId: string;
  documentId: string;
  state: string;
  chunks?: number;
  version?: number;
}
interface SearchOut {
  results: {
    documentId: string;
    chunkId: string;
    score: number;
    text: string;
    metadata: Record<string, unknown>;
  }[];
  cached: boolean;
}
interface JobOut {
  jobId: string;
  kind: string;
  documentId?: string;
  state: string;
  progress: number;
  result?: Record<string, unknown>;
}

const GUIDE = `# Lighthouse keeping

## Lamps
The lamp of a lighthouse burns paraffin oil; the keeper trims the wick every four hours.

## Fog signals
In fog the keeper sounds a diaphone horn twice a minute so ships can find the rocks.
`;

let stack: TestStack;
let modern: Client;
let legacy: LegacyClient;

beforeAll(async () => {
  stack = await TestStack.start({ redisUrl: inject('redisUrl') });
  modern = await connectModern(stack.url);
  legacy = await connectLegacy(stack.url);
});

afterAll(async () => {
  await modern?.close();
  await legacy?.close();
  await stack?.stop();
});

describe('tool listing', () => {
  it('lists the nine tools with input and output schemas and annotations, to both client eras', async () => {
    for (const client of [modern, legacy]) {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([...toolNames].sort());
      const search = tools.find((t) => t.name === 'search');
      expect(search?.inputSchema.required).toEqual(['query']);
      expect(search?.inputSchema.properties).toHaveProperty('topK');
      expect(search?.outputSchema?.properties).toHaveProperty('results');
      expect(search?.annotations?.readOnlyHint).toBe(true);
      const del = tools.find((t) => t.name === 'delete_document');
      expect(del?.annotations?.destructiveHint).toBe(true);
    }
  });

  it('describes every input property of every tool to the model that calls it', async () => {
    const { tools } = await modern.listTools();
    const undescribed: string[] = [];
    /** Every property of an object schema, nested objects (chunking, a batch's documents) included. */
    const visit = (schema: unknown, where: string) => {
      if (typeof schema !== 'object' || schema === null) return;
      const node = schema as { properties?: Record<string, { description?: string }>; items?: unknown };
      for (const [name, property] of Object.entries(node.properties ?? {})) {
        if (!property.description || property.description.length < 20) undescribed.push(`${where}.${name}`);
        visit(property, `${where}.${name}`);
      }
      visit(node.items, `${where}[]`);
      for (const branch of (schema as { anyOf?: unknown[] }).anyOf ?? []) visit(branch, where);
    };
    for (const tool of tools) visit(tool.inputSchema, tool.name);
    expect(undescribed).toEqual([]);

    const search = tools.find((t) => t.name === 'search')?.inputSchema.properties?.topK as {
      description: string;
    };
    expect(search.description).toMatch(/1-50; default 5/);
  });

  it('has no empty schemas in the input and output schemas (MCP Inspector --strict warns about them)', async () => {
    const { tools } = await modern.listTools();
    const empty: string[] = [];
    const visit = (schema: unknown, where: string) => {
      if (typeof schema !== 'object' || schema === null) return;
      if (!Array.isArray(schema) && Object.keys(schema).length === 0) empty.push(where);
      for (const [key, child] of Object.entries(schema)) visit(child, `${where}/${key}`);
    };
    for (const tool of tools) {
      visit(tool.inputSchema, `${tool.name} input`);
      visit(tool.outputSchema, `${tool.name} output`);
    }
    expect(empty).toEqual([]);
  });
});

/** What a client put on the wire for each JSON-RPC message it POSTed: its method and protocol header. */
interface SentMessage {
  method: string;
  protocolHeader: string | null;
}

/** A `fetch` that records every POST it forwards, as a proxy between client and gateway would see it. */
function recordingFetch(sent: SentMessage[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    if (request.method === 'POST' && typeof init?.body === 'string') {
      const { method } = JSON.parse(init.body) as { method?: string };
      sent.push({
        method: method ?? '(response)',
        protocolHeader: request.headers.get('mcp-protocol-version'),
      });
    }
    return fetch(input, init);
  };
}

describe('protocol revisions', () => {
  it('speaks stateless 2026-07-28 to the modern client: server/discover, never initialize', async () => {
    const sent: SentMessage[] = [];
    const client = await connectModern(stack.url, { fetch: recordingFetch(sent) });
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN_PROTOCOL_VERSION);
      structured(await client.callTool({ name: 'list_jobs', arguments: {} }));
      expect(sent.map((m) => m.method)).toEqual(['server/discover', 'tools/call']);
      expect(sent.at(-1)?.protocolHeader).toBe(MODERN_PROTOCOL_VERSION);
    } finally {
      await client.close();
    }
  });

  it('still serves the 2025-11-25 initialize handshake to the legacy client', async () => {
    const sent: SentMessage[] = [];
    const client = await connectLegacy(stack.url, { fetch: recordingFetch(sent) });
    try {
      structured(await client.callTool({ name: 'list_jobs', arguments: {} }));
      expect(sent.map((m) => m.method)).toEqual(['initialize', 'notifications/initialized', 'tools/call']);
      expect(sent.at(-1)?.protocolHeader).toBe('2025-11-25');
    } finally {
      await client.close();
    }
  });
});

describe('ingest and search', () => {
  it('ingests with progress notifications and then finds the text (modern client)', async () => {
    const progress: number[] = [];
    const result = await modern.callTool(
      {
        name: 'ingest_document',
        arguments: { content: GUIDE, documentId: 'lighthouse', metadata: { topic: 'sea' } },
      },
      { onprogress: (p) => progress.push(p.progress) },
    );
    const out = structured<IngestOut>(result);
    expect(out).toMatchObject({ documentId: 'lighthouse', state: 'completed', version: 1 });
    expect(out.chunks).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toBe(1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]!);

    const found = structured<SearchOut>(
      await modern.callTool({ name: 'search', arguments: { query: 'diaphone horn in fog', topK: 2 } }),
    );
    expect(found.results[0]?.documentId).toBe('lighthouse');
    expect(found.results[0]?.text).toContain('diaphone');
    expect(found.results[0]?.metadata).toEqual({ topic: 'sea' });
    expect(found.cached).toBe(false);
  });

  it('serves a legacy client the same way, progress included', async () => {
    const progress: number[] = [];
    const result = await legacy.callTool(
      {
        name: 'ingest_document',
        arguments: {
          content: 'Beekeepers smoke the hive before lifting frames of honeycomb.',
          documentId: 'bees',
        },
      },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(structured<IngestOut>(result)).toMatchObject({ documentId: 'bees', state: 'completed' });
    expect(progress.at(-1)).toBe(1);
    const found = structured<SearchOut>(
      await legacy.callTool({ name: 'search', arguments: { query: 'honeycomb frames', topK: 1 } }),
    );
    expect(found.results[0]?.documentId).toBe('bees');
  });

  it('filters search by document metadata', async () => {
    const found = structured<SearchOut>(
      await modern.callTool({
        name: 'search',
        arguments: { query: 'keeper', topK: 5, filter: { topic: 'sea' } },
      }),
    );
    expect(found.results.length).toBeGreaterThan(0);
    expect(new Set(found.results.map((r) => r.documentId))).toEqual(new Set(['lighthouse']));
  });

  it('returns a job handle at once with wait: false, which get_job follows to completion', async () => {
    const handle = structured<IngestOut>(
      await modern.callTool({
        name: 'ingest_document',
        arguments: {
          content: 'Cartographers draw contour lines at equal heights.',
          documentId: 'maps',
          wait: false,
        },
      }),
    );
    expect(handle.state).toMatch(/queued|active/);
    let job: JobOut;
    do {
      job = structured<JobOut>(
        await modern.callTool({ name: 'get_job', arguments: { jobId: handle.jobId } }),
      );
    } while (job.state !== 'completed' && job.state !== 'failed');
    expect(job).toMatchObject({ kind: 'ingest', documentId: 'maps', state: 'completed', progress: 1 });
    expect(job.result).toMatchObject({ documentId: 'maps', version: 1 });

    const listed = structured<{ jobs: JobOut[] }>(
      await modern.callTool({ name: 'list_jobs', arguments: { state: 'completed', limit: 50 } }),
    );
    expect(listed.jobs.find((j) => j.jobId === handle.jobId)?.documentId).toBe('maps');
  });

  it('treats the same ingest twice as one job, and new content as a new version', async () => {
    const args = { content: 'Tides follow the moon.', documentId: 'tides' };
    const first = structured<IngestOut>(await modern.callTool({ name: 'ingest_document', arguments: args }));
    const second = structured<IngestOut>(await legacy.callTool({ name: 'ingest_document', arguments: args }));
    expect(second.jobId).toBe(first.jobId);
    expect(second.state).toBe('completed');
    const doc = structured<{ version: number }>(
      await modern.callTool({ name: 'get_document', arguments: { documentId: 'tides' } }),
    );
    expect(doc.version).toBe(1);

    const changed = structured<IngestOut>(
      await modern.callTool({
        name: 'ingest_document',
        arguments: { ...args, content: 'Tides follow the moon and sun.' },
      }),
    );
    expect(changed.jobId).not.toBe(first.jobId);
    expect(changed.version).toBe(2);
  });

  it('pages through documents and reads a document resource', async () => {
    const page1 = structured<{ documents: { documentId: string }[]; nextCursor?: string }>(
      await modern.callTool({ name: 'list_documents', arguments: { limit: 2 } }),
    );
    expect(page1.documents).toHaveLength(2);
    expect(page1.nextCursor).toBeDefined();
    const page2 = structured<{ documents: { documentId: string }[] }>(
      await modern.callTool({ name: 'list_documents', arguments: { limit: 50, cursor: page1.nextCursor } }),
    );
    const ids = [...page1.documents, ...page2.documents].map((d) => d.documentId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['lighthouse', 'bees', 'maps', 'tides']));

    const resource = await modern.readResource({ uri: 'hopper://documents/lighthouse' });
    const first = resource.contents[0] as { text: string };
    expect(JSON.parse(first.text)).toMatchObject({ documentId: 'lighthouse', version: 1 });
  });

  it('deletes a document: it is gone from get, list and search', async () => {
    structured(
      await modern.callTool({
        name: 'ingest_document',
        arguments: { content: 'Glassblowers anneal vases.', documentId: 'glass' },
      }),
    );
    const deleted = structured<{ deleted: boolean }>(
      await modern.callTool({ name: 'delete_document', arguments: { documentId: 'glass' } }),
    );
    expect(deleted.deleted).toBe(true);
    expect(
      toolError(await modern.callTool({ name: 'get_document', arguments: { documentId: 'glass' } })),
    ).toMatch(/not found/);
    const found = structured<SearchOut>(
      await modern.callTool({ name: 'search', arguments: { query: 'glassblowers anneal vases', topK: 10 } }),
    );
    expect(found.results.map((r) => r.documentId)).not.toContain('glass');
    const again = structured<{ deleted: boolean }>(
      await modern.callTool({ name: 'delete_document', arguments: { documentId: 'glass' } }),
    );
    expect(again.deleted).toBe(false);
  });
});

describe('embed_texts', () => {
  it('embeds a small batch inline and a large batch through the queue, with the same vectors', async () => {
    const small = structured<{ model: string; dimensions: number; embeddings: number[][] }>(
      await modern.callTool({ name: 'embed_texts', arguments: { texts: ['red apple', 'green pear'] } }),
    );
    expect(small.embeddings).toHaveLength(2);
    expect(small.embeddings[0]).toHaveLength(small.dimensions);

    const texts = Array.from({ length: 100 }, (_, i) => `sentence number ${i} about apples`);
    texts[0] = 'red apple';
    const large = structured<{ embeddings: number[][] }>(
      await modern.callTool({ name: 'embed_texts', arguments: { texts } }),
    );
    expect(large.embeddings).toHaveLength(100);
    large.embeddings[0]!.forEach((value, i) => expect(value).toBeCloseTo(small.embeddings[0]![i]!, 5));
    const jobs = structured<{ jobs: JobOut[] }>(await modern.callTool({ name: 'list_jobs', arguments: {} }));
    expect(jobs.jobs.some((j) => j.kind === 'embed' && j.state === 'completed')).toBe(true);
  });

  it('refuses a model the server does not serve', async () => {
    const message = toolError(
      await modern.callTool({ name: 'embed_texts', arguments: { texts: ['x'], model: 'gpt-nonexistent' } }),
    );
    expect(message).toMatch(/not served/);
  });
});

describe('bad input and unknown ids', () => {
  it('refuses invalid arguments with a clear message and stays healthy', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['search', { query: '' }, /query/],
      ['search', { query: 'x', topK: 500 }, /topK/],
      ['search', { query: 'x', filter: { 'bad key!': 1 } }, /metadata keys|filter/],
      ['ingest_document', { documentId: 'x' }, /exactly one of content/],
      ['ingest_document', { content: 'x', contentBase64: 'eA==' }, /exactly one of content/],
      ['ingest_document', { content: 'x', colection: 'typo' }, /colection|Unrecognized/i],
      ['ingest_document', { contentBase64: '%%%' }, /not valid base64/],
      ['ingest_document', { contentBase64: 'eA==', mediaType: 'application/msword' }, /not supported/],
      ['ingest_document', { content: '   ' }, /empty/],
      ['embed_texts', { texts: [] }, /texts/],
      ['list_jobs', { limit: 0 }, /limit/],
      ['list_jobs', { cursor: 'not-a-cursor' }, /cursor/],
    ];
    for (const [name, args, pattern] of cases) {
      const message = toolError(await modern.callTool({ name, arguments: args }));
      expect(message, `${name} ${JSON.stringify(args)}`).toMatch(pattern);
    }
    const health = await fetch(stack.url.replace('/mcp', '/readyz'));
    expect(health.status).toBe(200);
  });

  it('answers unknown job and document ids with tool errors', async () => {
    expect(toolError(await modern.callTool({ name: 'get_job', arguments: { jobId: 'ing_nope' } }))).toMatch(
      /job 'ing_nope' was not found/,
    );
    expect(
      toolError(await modern.callTool({ name: 'cancel_job', arguments: { jobId: 'ing_nope' } })),
    ).toMatch(/not found/);
    expect(
      toolError(await legacy.callTool({ name: 'get_document', arguments: { documentId: 'nope' } })),
    ).toMatch(/document 'nope' was not found/);
  });

  it('rejects malformed HTTP bodies at the edge', async () => {
    const response = await fetch(stack.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{not json',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: number } }).error.code).toBe(-32700);
  });
});
