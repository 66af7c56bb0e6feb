import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, queueIngest, structured, waitForJobEnd, type JobOut } from '../support/clients.ts';
import { storedChunks } from '../support/faults.ts';
import { TestStack } from '../support/stack.ts';

/*
 * Four worker processes writing one store, as a scaled-out deployment runs them. Each worker
 * commits the documents its jobs finish in groups; the workers take per-document locks in Redis so
 * that two of them never write one document at once.
 */

let stack: TestStack;
let client: Client;
/** A client of the second gateway, which only reads what the workers commit. */
let other: Client;

beforeAll(async () => {
  stack = await TestStack.start({ redisUrl: inject('redisUrl'), workers: 4, gateways: 2 });
  client = await connectModern(stack.url);
  other = await connectModern(stack.gateways[1]!.url);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await other?.close();
  await stack?.stop();
});

const text = (topic: string, words = 40) =>
  Array.from({ length: words }, (_, i) => `${topic} note ${i} about harbour ${topic} tides.`).join(' ');

async function allDocuments(collection: string): Promise<{ documentId: string; version: number }[]> {
  const documents: { documentId: string; version: number }[] = [];
  let cursor: string | undefined;
  do {
    const page = structured<{ documents: { documentId: string; version: number }[]; nextCursor?: string }>(
      await client.callTool({
        name: 'list_documents',
        arguments: { collection, limit: 100, ...(cursor ? { cursor } : {}) },
      }),
    );
    documents.push(...page.documents);
    cursor = page.nextCursor;
  } while (cursor);
  return documents;
}

/** Group commits and the documents they wrote, summed over every worker's `/metrics`. */
async function commitMetrics(): Promise<{ count: number; documents: number }> {
  let count = 0;
  let documents = 0;
  for (const worker of stack.workers) {
    const line = worker.lines.find((l) => l.includes('worker metrics at /metrics'));
    const port = (JSON.parse(line ?? '{}') as { port?: number }).port;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const sample = (name: string) =>
      Number(/^(\S+) (\S+)$/m.exec(text.split('\n').find((l) => l.startsWith(name)) ?? '')?.[2] ?? 0);
    count += sample('hopper_store_commit_documents_count');
    documents += sample('hopper_store_commit_documents_sum');
  }
  return { count, documents };
}

async function endAll(jobIds: string[]): Promise<JobOut[]> {
  const ended: JobOut[] = [];
  // A few at a time: each wait polls get_job.
  for (let i = 0; i < jobIds.length; i += 20) {
    ended.push(...(await Promise.all(jobIds.slice(i, i + 20).map((id) => waitForJobEnd(client, id)))));
  }
  return ended;
}

describe('four workers writing one store', () => {
  it('store every document once, whichever worker commits it', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `note-${i}`);
    const jobIds = await Promise.all(
      ids.map((documentId) =>
        queueIngest(client, { content: text(documentId), documentId, collection: 'many' }),
      ),
    );
    const ended = await endAll(jobIds);
    expect(ended.filter((job) => job.state !== 'completed')).toEqual([]);

    const documents = await allDocuments('many');
    expect(documents.map((d) => d.documentId).sort()).toEqual([...ids].sort());
    expect(documents.every((d) => d.version === 1)).toBe(true);
    for (const documentId of ['note-0', 'note-77', 'note-199']) {
      const stored = await storedChunks(stack.storeUri, documentId);
      expect(stored.versions).toEqual([1]);
      expect(stored.distinctIds).toBe(stored.rows);
    }
    // The workers wrote them in groups: fewer commits than documents (their own metrics say so).
    const commits = await commitMetrics();
    expect(commits.documents).toBe(200);
    expect(commits.count).toBeLessThan(200);
  }, 180_000);

  it('show a document on another gateway as soon as its job says completed', async () => {
    const ingests = Array.from({ length: 12 }, async (_, i) => {
      const documentId = `seen-${i}`;
      const topic = `lighthouse${i}keeper`;
      // Waits for the job (the default), then asks the other gateway at once.
      const done = structured<{ state: string; version: number }>(
        await client.callTool({
          name: 'ingest_document',
          arguments: { content: text(topic), documentId, collection: 'seen' },
        }),
      );
      expect(done).toMatchObject({ state: 'completed', version: 1 });
      const document = structured<{ version: number }>(
        await other.callTool({ name: 'get_document', arguments: { documentId, collection: 'seen' } }),
      );
      expect(document.version).toBe(1);
      const found = structured<{ results: { documentId: string }[] }>(
        await other.callTool({
          name: 'search',
          arguments: { query: topic, collection: 'seen', mode: 'text', topK: 3 },
        }),
      );
      expect(found.results[0]?.documentId).toBe(documentId);
    });
    await Promise.all(ingests);
  }, 120_000);

  it('give two different re-ingests of one document, sent at once, distinct versions; the later commit holds its content', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `pair-${i}`);
    await endAll(
      await Promise.all(ids.map((documentId) => queueIngest(client, { content: text('first'), documentId }))),
    );
    // Two different contents per document, queued together: the workers race for them.
    const pairs = await Promise.all(
      ids.map(async (documentId) => {
        const [a, b] = await Promise.all([
          queueIngest(client, { content: text('alpha'), documentId }),
          queueIngest(client, { content: text('bravo'), documentId }),
        ]);
        return { documentId, jobs: [a, b] };
      }),
    );
    let lost = 0;
    for (const { documentId, jobs } of pairs) {
      const [a, b] = await endAll(jobs);
      expect([a?.state, b?.state]).toEqual(['completed', 'completed']);
      const versions = [a, b].map((job) => job?.result?.['version'] as number);
      if (new Set(versions).size !== 2) lost++;
      expect(versions.sort()).toEqual([2, 3]);
      // The job that got version 3 committed last: its content is what is stored.
      const last = (a?.result?.['version'] as number) === 3 ? 'alpha' : 'bravo';
      const stored = await storedChunks(stack.storeUri, documentId);
      expect(stored.versions).toEqual([3]);
      expect(stored.texts.join(' ')).toContain(`${last} note 0`);
      const document = structured<{ version: number }>(
        await client.callTool({ name: 'get_document', arguments: { documentId } }),
      );
      expect(document.version).toBe(3);
    }
    expect(lost).toBe(0);
  }, 180_000);
});
