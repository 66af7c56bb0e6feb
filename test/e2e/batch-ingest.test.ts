import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import {
  connectModern,
  getJob,
  structured,
  toolError,
  waitForJob,
  waitForJobEnd,
} from '../support/clients.ts';
import { storedChunks } from '../support/faults.ts';
import { TestStack } from '../support/stack.ts';

/*
 * Batch ingestion as users send it: many documents in one call (MCP, REST JSON, NDJSON, a
 * directory), one job, per-document outcomes. The stack allows each tenant two live jobs, so a
 * batch that needed a job slot per document would be refused at once.
 */

let stack: TestStack;
let client: Client;
let roots: string;

beforeAll(async () => {
  roots = await mkdtemp(join(tmpdir(), 'hopper-batch-roots-'));
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: { HOPPER_MAX_JOBS_PER_TENANT: '2', HOPPER_INGEST_ROOTS: roots },
  });
  client = await connectModern(stack.url);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  await rm(roots, { recursive: true, force: true });
});

const abstract = (topic: string, i: number) =>
  `${topic} study ${i}. We measured how ${topic} changes the tides of harbour ${i}, ` +
  `and found that ${topic} matters for sailors in season ${i % 7}.`;

interface Outcome {
  index: number;
  documentId?: string;
  state: 'stored' | 'unchanged' | 'failed';
  version?: number;
  chunks?: number;
  error?: string;
}
interface BatchOut {
  jobId: string;
  state: string;
  total: number;
  stored?: number;
  unchanged?: number;
  failed?: number;
  documents?: Outcome[];
  skipped?: { path: string; reason: string }[];
}

async function documentCount(collection: string): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = structured<{ documents: { documentId: string; version: number }[]; nextCursor?: string }>(
      await client.callTool({
        name: 'list_documents',
        arguments: { collection, limit: 100, ...(cursor ? { cursor } : {}) },
      }),
    );
    for (const document of page.documents) versions.set(document.documentId, document.version);
    cursor = page.nextCursor;
  } while (cursor);
  return versions;
}

async function rest(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const { json, ...rest } = init;
  return fetch(`${stack.url.replace(/\/mcp$/, '')}${path}`, {
    method: 'POST',
    ...rest,
    ...(json === undefined
      ? {}
      : { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } }),
  });
}

describe('ingest_documents', () => {
  it('stores a batch as one job, each bad document failing alone with its reason', async () => {
    const documents: unknown[] = Array.from({ length: 40 }, (_, i) => ({
      documentId: `tide-${i}`,
      content: abstract('tide', i),
      title: `Tide study ${i}`,
      metadata: { year: 2000 + i },
    }));
    documents[5] = { documentId: 'no-body', title: 'missing its content' };
    documents[9] = { documentId: 'tide-3', content: 'the same id again' };
    documents[12] = { documentId: 'bad-json', content: '{"open": [1, 2', mediaType: 'application/json' };
    documents[20] = 'not even an object';
    documents[30] = {
      documentId: 'pdf-as-text',
      content: '%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n',
    };
    const out = structured<BatchOut>(
      await client.callTool({ name: 'ingest_documents', arguments: { collection: 'tides', documents } }),
    );
    expect(out).toMatchObject({ state: 'completed', total: 40, stored: 35, unchanged: 0, failed: 5 });
    const failed = out.documents!.filter((d) => d.state === 'failed');
    expect(failed.map((d) => d.index)).toEqual([5, 9, 12, 20, 30]);
    expect(failed[0]!.error).toMatch(/content.*contentBase64/);
    expect(failed[1]!.error).toMatch(/tide-3.*already document 3/);
    expect(failed[2]!.error).toMatch(/JSON/i);
    expect(failed[3]!.error).toMatch(/expected object/);
    expect(failed[4]!.error).toMatch(
      /document 30: content is not text: it looks like a PDF file.*contentBase64/,
    );
    expect(out.documents!.every((d, i) => d.index === i)).toBe(true);

    // Stored means readable and searchable, on the gateway that answered.
    const versions = await documentCount('tides');
    expect(versions.size).toBe(35);
    expect([...versions.values()].every((v) => v === 1)).toBe(true);
    const hits = structured<{ results: { documentId: string }[] }>(
      await client.callTool({
        name: 'search',
        arguments: { query: 'tide study 17 harbour 17', collection: 'tides', mode: 'text' },
      }),
    );
    expect(hits.results[0]?.documentId).toBe('tide-17');

    // One job for the whole batch.
    const job = await getJob(client, out.jobId);
    expect(job).toMatchObject({ kind: 'batch', state: 'completed' });

    // The same batch again writes nothing: every stored document is unchanged.
    const again = structured<BatchOut>(
      await client.callTool({ name: 'ingest_documents', arguments: { collection: 'tides', documents } }),
    );
    expect(again).toMatchObject({ state: 'completed', stored: 0, unchanged: 35, failed: 5 });
    expect([...(await documentCount('tides')).values()].every((v) => v === 1)).toBe(true);
  });

  it('takes one job slot for thousands of documents, and streams per-document progress', async () => {
    // Enough documents that the batch outlasts several of its progress intervals (250 ms): 600
    // took a worker ~0.3 s, too few events to tell. 3,000 is about what one JSON call can carry
    // (its 10,000 keys and array items).
    const documents = Array.from({ length: 3_000 }, (_, i) => ({
      documentId: `slot-${i}`,
      content: abstract('slot', i),
    }));
    const progress: number[] = [];
    const out = structured<BatchOut>(
      await client.callTool(
        { name: 'ingest_documents', arguments: { collection: 'slots', documents } },
        { onprogress: (p) => progress.push(p.progress) },
      ),
    );
    expect(out).toMatchObject({ state: 'completed', total: 3_000, stored: 3_000, failed: 0 });
    expect(progress.length).toBeGreaterThan(2);
    // Counted per document, partway through, and never backwards.
    expect(progress.some((p) => p > 0 && p < 3_000)).toBe(true);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect((await documentCount('slots')).size).toBe(3_000);
  }, 120_000);

  it('refuses a batch over its limits before any work, naming the limit', async () => {
    const lines = Array.from({ length: 10_001 }, (_, i) => JSON.stringify({ content: `n ${i}` })).join('\n');
    const response = await rest('/v1/documents/batch?collection=over', {
      body: lines,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/10000/);
    expect((await documentCount('over')).size).toBe(0);
  });
});

describe('POST /v1/documents/batch', () => {
  it('takes NDJSON, a line that is not JSON failing alone', async () => {
    const lines = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ documentId: `nd-${i}`, content: abstract('ndjson', i) }),
    );
    lines[7] = '{"documentId": "nd-7", "content": ';
    const response = await rest('/v1/documents/batch?collection=nd&wait=false', {
      body: lines.join('\n') + '\n',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(response.status).toBe(202);
    const handle = (await response.json()) as BatchOut;
    expect(response.headers.get('location')).toBe(`/v1/jobs/${handle.jobId}`);
    const job = await waitForJobEnd(client, handle.jobId);
    expect(job.state).toBe('completed');
    const result = job.result as unknown as BatchOut;
    expect(result).toMatchObject({ total: 50, stored: 49, failed: 1 });
    expect(result.documents![7]).toMatchObject({ index: 7, state: 'failed' });
    expect(result.documents![7]!.error).toMatch(/line 8: the line is not valid JSON/);
  });

  it('fails alone a line whose content is a binary file sent as text', async () => {
    const lines = [
      JSON.stringify({ documentId: 'text', content: abstract('binary', 1) }),
      JSON.stringify({ documentId: 'elf', content: '\x7fELF\x02\x01\x01\x00\x00\x00' }),
    ];
    const response = await rest('/v1/documents/batch?collection=binary', {
      body: lines.join('\n'),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(response.status).toBe(200);
    const out = (await response.json()) as BatchOut;
    expect(out).toMatchObject({ state: 'completed', stored: 1, failed: 1 });
    expect(out.documents![1]!.error).toMatch(
      /content is not text: it looks like an ELF executable.*contentBase64/,
    );
  });

  it('takes a JSON body like the MCP tool', async () => {
    const response = await rest('/v1/documents/batch', {
      json: { collection: 'json', documents: [{ documentId: 'one', content: abstract('json', 1) }] },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ state: 'completed', stored: 1 });
  });
});

describe('a directory under the ingest roots', () => {
  it('ingests its supported files and reports what it skipped', async () => {
    const dir = join(roots, 'notes');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await mkdir(join(dir, '.git'), { recursive: true });
    await writeFile(join(dir, 'tides.md'), '# Tides\n\nSpring tides follow the new moon.');
    await writeFile(join(dir, 'sub', 'fog.txt'), 'Fog horns sound every thirty seconds.');
    await writeFile(join(dir, 'sub', 'page.html'), '<h1>Lights</h1><p>Lighthouse lamps turn.</p>');
    await writeFile(join(dir, 'image.bin'), Buffer.from([0, 1, 2, 3]));
    await writeFile(join(dir, '.git', 'config.md'), '# not a note');
    const out = structured<BatchOut>(
      await client.callTool({ name: 'ingest_documents', arguments: { collection: 'dir', path: dir } }),
    );
    expect(out).toMatchObject({ state: 'completed', total: 3, stored: 3, failed: 0 });
    expect(out.skipped?.map((s) => s.path)).toEqual([join(dir, 'image.bin')]);
    expect(out.skipped?.[0]?.reason).toMatch(/not a supported file type/);
    expect([...(await documentCount('dir')).keys()].sort()).toEqual([
      'notes/sub/fog.txt',
      'notes/sub/page.html',
      'notes/tides.md',
    ]);
    expect(
      toolError(
        await client.callTool({ name: 'ingest_documents', arguments: { path: join(tmpdir(), 'elsewhere') } }),
      ),
    ).toMatch(/outside the ingest roots/);
  });
});

describe('a batch that is stopped', () => {
  // As many documents as one JSON call carries: the batch must still be running when the test
  // stops it, and a worker stores 1,500 of these in ~0.5 s.
  const BIG = 3_000;
  const big = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ documentId: `big-${i}`, content: abstract('cancel', i) }));

  it('keeps what it stored when cancelled, and a resend completes it without duplicates', async () => {
    const documents = big(BIG);
    const { jobId } = structured<BatchOut>(
      await client.callTool({
        name: 'ingest_documents',
        arguments: { collection: 'cancel', documents, wait: false },
      }),
    );
    await waitForJob(client, jobId, (job) => (job.progress ?? 0) > 0.05);
    const cancelled = structured<{ state: string }>(
      await client.callTool({ name: 'cancel_job', arguments: { jobId } }),
    );
    expect(cancelled.state).toBe('cancelled');
    const job = await getJob(client, jobId);
    const kept = Number(/the (\d+) stored by this batch stay stored/.exec(job.message ?? '')?.[1]);
    const stored = await documentCount('cancel');
    expect(stored.size).toBe(kept);
    expect(stored.size).toBeLessThan(BIG);

    const out = structured<BatchOut>(
      await client.callTool({ name: 'ingest_documents', arguments: { collection: 'cancel', documents } }),
    );
    expect(out).toMatchObject({ state: 'completed', stored: BIG - kept, unchanged: kept, failed: 0 });
    const after = await documentCount('cancel');
    expect(after.size).toBe(BIG);
    expect([...after.values()].every((v) => v === 1)).toBe(true);
  }, 120_000);

  it('loses and duplicates nothing when its worker is killed mid-batch', async () => {
    const documents = big(BIG).map((d) => ({ ...d, documentId: d.documentId.replace('big', 'kill') }));
    const { jobId } = structured<BatchOut>(
      await client.callTool({
        name: 'ingest_documents',
        arguments: { collection: 'kill', documents, wait: false },
      }),
    );
    await waitForJob(client, jobId, (job) => (job.progress ?? 0) > 0.1);
    await stack.workers[0]!.stop('SIGKILL');
    stack.workers.splice(0, 1);
    await stack.startWorker();
    const job = await waitForJobEnd(client, jobId);
    expect(job.state).toBe('completed');
    const result = job.result as unknown as BatchOut;
    expect((result.stored ?? 0) + (result.unchanged ?? 0)).toBe(BIG);
    const after = await documentCount('kill');
    expect(after.size).toBe(BIG);
    expect([...after.values()].every((v) => v === 1)).toBe(true);
    // No rows of a version twice, none of a second version.
    const sample = await storedChunks(stack.storeUri, 'kill-7');
    expect(sample.versions).toEqual([1]);
    expect(sample.distinctIds).toBe(sample.rows);
  }, 120_000);
});
