import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  connectLegacy,
  connectModern,
  structured,
  toolError,
  type LegacyClient,
} from '../support/clients.ts';
import { baseUrl } from '../support/socket-client.ts';
import { TestStack } from '../support/stack.ts';

/** A document's chunks, through a real MCP client and REST, from a real worker's ingest. */

interface Chunk {
  chunkId: string;
  index: number;
  text: string;
  headingPath: string[];
  start: number;
  end: number;
  page?: number;
}
interface ChunkPage {
  documentId: string;
  collection: string;
  version: number;
  totalChunks: number;
  chunks: Chunk[];
  nextCursor?: string;
  cached?: boolean;
}
interface ErrorBody {
  error: { code: string; message: string };
}

const COLLECTION = 'atlas';

/** A Markdown guide with two sections of numbered sentences, cut into small chunks. */
function guide(word: string): string {
  const section = (title: string) =>
    `## ${title}\n\n` +
    Array.from({ length: 12 }, (_, i) => `${word} sentence ${i} about the ${title.toLowerCase()}.`).join(' ');
  return `# Lighthouse guide\n\n${section('Lamp room')}\n\n${section('Fog signal')}\n`;
}

let stack: TestStack;
let url: string;
let modern: Client;
let legacy: LegacyClient;

async function ingest(content: string): Promise<{ version: number; chunks: number }> {
  return structured<{ version: number; chunks: number }>(
    await modern.callTool({
      name: 'ingest_document',
      arguments: {
        content,
        documentId: 'guides/lighthouse.md',
        collection: COLLECTION,
        chunking: { maxChars: 120 },
      },
    }),
  );
}

async function listChunks(args: Record<string, unknown>): Promise<ChunkPage> {
  return structured<ChunkPage>(
    await modern.callTool({
      name: 'list_chunks',
      arguments: { documentId: 'guides/lighthouse.md', collection: COLLECTION, ...args },
    }),
  );
}

async function rest<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as T };
}

const chunksPath = (query: string) =>
  `/v1/documents/${encodeURIComponent('guides/lighthouse.md')}/chunks?collection=${COLLECTION}&${query}`;

beforeAll(async () => {
  stack = await TestStack.start({ redisUrl: inject('redisUrl') });
  url = baseUrl(stack.url);
  modern = await connectModern(stack.url);
  legacy = await connectLegacy(stack.url);
});

afterAll(async () => {
  await modern?.close();
  await legacy?.close();
  await stack?.stop();
});

describe("a document's chunks", () => {
  it('lists every chunk once, in order, with its heading path and offsets, a page at a time over MCP', async () => {
    const stored = await ingest(guide('Keepers'));
    expect(stored.chunks).toBeGreaterThan(6);

    const pages: ChunkPage[] = [];
    let cursor: string | undefined;
    do {
      const page = await listChunks({ limit: 4, ...(cursor ? { cursor } : {}) });
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor);
    const chunks = pages.flatMap((page) => page.chunks);
    expect(pages.every((page) => page.chunks.length <= 4)).toBe(true);
    expect(pages[0]).toMatchObject({
      documentId: 'guides/lighthouse.md',
      collection: COLLECTION,
      version: 1,
      totalChunks: stored.chunks,
    });
    expect(chunks.map((chunk) => chunk.index)).toEqual([...Array(stored.chunks).keys()]);
    expect(chunks.map((chunk) => chunk.chunkId)).toEqual(chunks.map((_, i) => `guides/lighthouse.md:1:${i}`));
    // Every sentence is in a chunk under the heading it was written under.
    for (const [title, word] of [
      ['Lamp room', 'lamp room'],
      ['Fog signal', 'fog signal'],
    ] as const) {
      const under = chunks.filter((chunk) => chunk.headingPath.join(' › ') === `Lighthouse guide › ${title}`);
      expect(under.length).toBeGreaterThan(1);
      for (let i = 0; i < 12; i++) {
        expect(under.some((chunk) => chunk.text.includes(`sentence ${i} about the ${word}`))).toBe(true);
      }
    }
    // Offsets run forward through the document.
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.end).toBeGreaterThan(chunk.start);
      if (i > 0) expect(chunk.start).toBeGreaterThan(chunks[i - 1]!.start);
    }

    // REST answers the same pages.
    const first = await rest<ChunkPage>(chunksPath('limit=4'));
    expect(first.status).toBe(200);
    expect(first.body.chunks).toEqual(pages[0]!.chunks);
    const second = await rest<ChunkPage>(chunksPath(`limit=4&cursor=${first.body.nextCursor}`));
    expect(second.body.chunks).toEqual(pages[1]!.chunks);
  });

  it('is cached until the document changes, then shows only the new version', async () => {
    const before = await listChunks({ limit: 100 });
    expect((await listChunks({ limit: 100 })).cached).toBe(true);
    const stale = await listChunks({ limit: 2 });

    const replaced = await ingest(`# Short guide\n\nOnly the lamp is left to describe.\n`);
    expect(replaced.version).toBe(2);
    const after = await listChunks({ limit: 100 });
    expect(after.cached).toBe(false);
    expect(after).toMatchObject({ version: 2, totalChunks: replaced.chunks });
    expect(after.chunks.map((chunk) => chunk.chunkId)).toEqual(
      after.chunks.map((_, i) => `guides/lighthouse.md:2:${i}`),
    );
    expect(after.chunks.map((chunk) => chunk.text).join(' ')).toMatch(/Only the lamp is left/);
    expect(after.chunks.some((chunk) => /Keepers/.test(chunk.text))).toBe(false);
    expect(before.chunks.length).toBeGreaterThan(after.chunks.length);

    // A cursor into the replaced version says what to do rather than mixing versions.
    const message = toolError(
      await modern.callTool({
        name: 'list_chunks',
        arguments: { documentId: 'guides/lighthouse.md', collection: COLLECTION, cursor: stale.nextCursor },
      }),
    );
    expect(message).toMatch(/replaced .*version 2.*first page/);
    const refused = await rest<ErrorBody>(chunksPath(`cursor=${stale.nextCursor}`));
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/replaced/);
  });

  it('answers an unknown document as get_document does, on MCP (both eras) and REST', async () => {
    const args = { documentId: 'nope', collection: COLLECTION };
    const fromGet = await modern.callTool({ name: 'get_document', arguments: args });
    const fromList = await modern.callTool({ name: 'list_chunks', arguments: args });
    expect(toolError(fromList)).toBe(toolError(fromGet));
    expect(toolError(fromList)).toMatch(/document 'nope' was not found/);
    expect((fromList as { _meta?: Record<string, unknown> })._meta?.['hopper/error']).toEqual({
      code: 'not_found',
    });
    expect(toolError(await legacy.callTool({ name: 'list_chunks', arguments: args }))).toMatch(
      /document 'nope' was not found/,
    );
    // The id is right but the collection is not: not found either.
    expect(
      toolError(
        await modern.callTool({ name: 'list_chunks', arguments: { documentId: 'guides/lighthouse.md' } }),
      ),
    ).toMatch(/not found/);

    const missing = await rest<ErrorBody>(`/v1/documents/nope/chunks?collection=${COLLECTION}`);
    const got = await rest<ErrorBody>(`/v1/documents/nope?collection=${COLLECTION}`);
    expect(missing).toEqual(got);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('describes the tool and its arguments for models, and the route in OpenAPI', async () => {
    const { tools } = await modern.listTools();
    const tool = tools.find((t) => t.name === 'list_chunks');
    expect(tool?.annotations?.readOnlyHint).toBe(true);
    const properties = tool?.inputSchema.properties as Record<string, { description?: string }>;
    expect(Object.keys(properties).sort()).toEqual(['collection', 'cursor', 'documentId', 'limit']);
    for (const [name, property] of Object.entries(properties)) {
      expect(property.description, name).toMatch(/\w{3,}/);
    }

    const openapi = await rest<{
      paths: Record<
        string,
        Record<string, { operationId: string; parameters: { name: string; in: string }[] }>
      >;
    }>('/v1/openapi.json');
    const operation = openapi.body.paths['/v1/documents/{documentId}/chunks']?.get;
    expect(operation?.operationId).toBe('list_chunks');
    expect(operation?.parameters.map((p) => `${p.in}:${p.name}`).sort()).toEqual([
      'path:documentId',
      'query:collection',
      'query:cursor',
      'query:limit',
    ]);
  });
});
