import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured, toolError, waitForJobEnd } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
/** What the gateway's RSS must stay under while 60 path ingests of a 30 MiB file arrive at once. */
const GATEWAY_RSS_BOUND = 600 * MiB;

let root: string;
let otherRoot: string;
let stack: TestStack;
let client: Client;

beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), 'hopper-path-'));
  root = join(base, 'docs');
  otherRoot = join(base, 'more');
  await mkdir(root, { recursive: true });
  await mkdir(otherRoot, { recursive: true });
  stack = await TestStack.start({
    redisUrl: inject('redisUrl'),
    env: { HOPPER_INGEST_ROOTS: `${root},${otherRoot}` },
  });
  client = await connectModern(stack.url);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
  if (root) await rm(join(root, '..'), { recursive: true, force: true });
});

interface Acknowledged {
  jobId: string;
  documentId: string;
  state: string;
}

/** The gateway's resident memory, as its own /metrics reports it. */
async function gatewayRss(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', stack.url))).text();
  const match = /^process_resident_memory_bytes(?:{[^}]*})? (\d+)/m.exec(text);
  if (!match) throw new Error('no process_resident_memory_bytes in /metrics');
  return Number(match[1]);
}

/** The peak of a process's resident memory so far (Linux), for the figures printed. */
async function peakRss(pid: number | undefined): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const match = status && /^VmHWM:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

describe('path ingests are bounded in the gateway', () => {
  it('60 concurrent path ingests of one 30 MiB file keep the gateway small and store the file once', async () => {
    // Mostly ideographic spaces (3 bytes each in UTF-8): 30 MiB for the gateway to read and hash,
    // 10 million characters (under the worker's text limit) and little for the worker to index.
    const path = join(root, 'big.txt');
    const words = 'The keeper trims the lantern wick at dusk and logs the passing ships.\n';
    await writeFile(path, words + '\u3000'.repeat((30 * MiB - 2 * words.length) / 3) + words);

    let peak = await gatewayRss();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await gatewayRss());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const calls = await Promise.all(
      Array.from({ length: 60 }, () =>
        client.callTool({ name: 'ingest_document', arguments: { path, wait: false } }),
      ),
    );
    sampling = false;
    await sampler;

    const busy = calls.filter((call) => (call as { isError?: boolean }).isError);
    for (const refusal of busy) {
      expect(refusal).toMatchObject({
        _meta: { 'hopper/error': { code: 'busy', retryAfterSeconds: expect.any(Number) as number } },
      });
    }
    const accepted = calls
      .filter((call) => !(call as { isError?: boolean }).isError)
      .map(structured<Acknowledged>);
    expect(accepted.length).toBeGreaterThan(0);
    // The same file is the same ingest: one job, one document.
    expect(new Set(accepted.map((a) => a.jobId)).size).toBe(1);
    expect(new Set(accepted.map((a) => a.documentId))).toEqual(new Set(['big.txt']));
    const job = await waitForJobEnd(client, accepted[0]!.jobId);
    expect(job.state, job.error).toBe('completed');
    expect(job.result).toMatchObject({ version: 1 });

    const hwm = await peakRss(stack.gateways[0]?.process.pid);
    console.log(
      `60 concurrent path ingests of 30 MiB: ${accepted.length} accepted, ${busy.length} busy; gateway RSS ` +
        `peak ${Math.round(peak / MiB)} MiB (sampled from /metrics), VmHWM ${hwm ? Math.round(hwm / MiB) : '?'} MiB`,
    );
    expect(peak).toBeLessThan(GATEWAY_RSS_BOUND);
  }, 240_000);
});

interface Ingested {
  documentId: string;
  state: string;
  version?: number;
}

async function ingestPath(path: string, extra: Record<string, unknown> = {}) {
  return client.callTool({ name: 'ingest_document', arguments: { path, collection: 'paths', ...extra } });
}

async function searchIds(query: string): Promise<string[]> {
  const { results } = structured<{ results: { documentId: string }[] }>(
    await client.callTool({
      name: 'search',
      arguments: { query, collection: 'paths', topK: 10, mode: 'text' },
    }),
  );
  return [...new Set(results.map((hit) => hit.documentId))].sort();
}

describe('path reads take turns', () => {
  it('answers busy with a retry time beyond the queue, and a retry after it is taken', async () => {
    // A gateway that reads one file at a time and lets two wait.
    const gateway = await stack.startGateway({ HOPPER_MAX_PATH_READS: '1', HOPPER_MAX_PATH_READ_QUEUE: '2' });
    const tight = await connectModern(gateway.url);
    try {
      const paths = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const path = join(root, `turns-${i}.txt`);
          await writeFile(path, `Turn ${i} of the lantern watch.\n` + '\u3000'.repeat(1_400_000));
          return path;
        }),
      );
      const ingest = (path: string) =>
        tight.callTool({ name: 'ingest_document', arguments: { path, collection: 'turns', wait: false } });
      const first = await Promise.all(paths.map(ingest));
      const refused = paths.filter((_, i) => (first[i] as { isError?: boolean }).isError);
      expect(refused.length).toBeGreaterThan(0);
      for (const answer of first) {
        if (!(answer as { isError?: boolean }).isError) continue;
        expect(toolError(answer)).toMatch(
          /too many path ingests on this gateway: 1 file being read, 2 waiting; retry after 2 s/,
        );
        expect(answer).toMatchObject({ _meta: { 'hopper/error': { code: 'busy', retryAfterSeconds: 2 } } });
      }
      // Retried one at a time, as a client told to wait would: each is taken.
      const jobIds = first
        .filter((a) => !(a as { isError?: boolean }).isError)
        .map((a) => structured<Acknowledged>(a).jobId);
      for (const path of refused) jobIds.push(structured<Acknowledged>(await ingest(path)).jobId);
      expect(new Set(jobIds).size).toBe(12);
      for (const jobId of jobIds) expect((await waitForJobEnd(tight, jobId)).state).toBe('completed');
    } finally {
      await tight.close();
    }
  }, 120_000);
});

describe('path-derived document ids', () => {
  it('stores files whose names differ only in punctuation or accents as distinct documents', async () => {
    const files: [string, string][] = [
      ['report (1).txt', 'Round brackets: the harbour master counted forty gulls.'],
      ['report [1].txt', 'Square brackets: the harbour master counted nine herons.'],
      ['café.txt', 'Acute accent: the harbour café sells smoked mackerel.'],
      ['cafè.txt', 'Grave accent: the harbour cafè sells pickled herring.'],
    ];
    const ids: string[] = [];
    for (const [name, text] of files) {
      await writeFile(join(root, name), text);
      const out = structured<Ingested>(await ingestPath(join(root, name)));
      expect(out).toMatchObject({ state: 'completed', version: 1 });
      ids.push(out.documentId);
    }
    expect(ids).toEqual(['report~20~281~29.txt', 'report~20~5B1~5D.txt', 'café.txt', 'cafè.txt']);
    // Each is found by its own words: none replaced another.
    expect(await searchIds('gulls')).toEqual(['report~20~281~29.txt']);
    expect(await searchIds('herons')).toEqual(['report~20~5B1~5D.txt']);
    expect(await searchIds('mackerel')).toEqual(['café.txt']);
    expect(await searchIds('herring')).toEqual(['cafè.txt']);
    const doc = structured<{ metadata: Record<string, unknown> }>(
      await client.callTool({
        name: 'get_document',
        arguments: { documentId: 'café.txt', collection: 'paths' },
      }),
    );
    expect(doc.metadata).toEqual({ 'hopper.path': join(root, 'café.txt') });

    // The same file again, edited: it replaces its own document, as before.
    await writeFile(join(root, 'café.txt'), 'Acute accent: the café now sells oysters.');
    expect(structured<Ingested>(await ingestPath(join(root, 'café.txt')))).toMatchObject({
      documentId: 'café.txt',
      version: 2,
    });
  });

  it('refuses a file whose id another document holds, instead of replacing it', async () => {
    // The same name written decomposed (e + combining accent) is a different file on Linux, and the
    // same id: the second one is refused.
    const decomposed = join(root, 'cafe\u0301.txt');
    await writeFile(decomposed, 'Decomposed: a third café that must not replace the first.');
    const clash = await ingestPath(decomposed);
    expect(toolError(clash)).toMatch(
      /document 'café\.txt' already holds another file \('.*café\.txt'\), whose path gives the same id; pass documentId/,
    );
    expect(clash).toMatchObject({ _meta: { 'hopper/error': { code: 'conflict' } } });

    // The same relative path under a second root, and an id taken by content sent inline.
    await writeFile(join(otherRoot, 'report (1).txt'), 'Another root: the harbour master counted seals.');
    expect(toolError(await ingestPath(join(otherRoot, 'report (1).txt')))).toMatch(
      /already holds another file/,
    );
    await client.callTool({
      name: 'ingest_document',
      arguments: { content: 'Inline notes about tides.', documentId: 'tides.txt', collection: 'paths' },
    });
    await writeFile(join(root, 'tides.txt'), 'A file named like the inline notes.');
    expect(toolError(await ingestPath(join(root, 'tides.txt')))).toMatch(
      /already holds a document that was not ingested from this path/,
    );

    // Nothing was replaced; naming the document stores the file beside the first.
    expect(await searchIds('oysters')).toEqual(['café.txt']);
    expect(await searchIds('seals')).toEqual([]);
    expect(
      structured<Ingested>(await ingestPath(decomposed, { documentId: 'cafe-decomposed.txt' })),
    ).toMatchObject({ documentId: 'cafe-decomposed.txt', version: 1 });
    expect(await searchIds('decomposed')).toEqual(['cafe-decomposed.txt']);
  });

  it('lets one of two new files with the same id in, when both arrive at once', async () => {
    for (let pair = 0; pair < 5; pair++) {
      // NFC and NFD spellings of one name: two files, one id, neither stored yet.
      const composed = join(root, `r\u00e9sum\u00e9-${pair}.txt`);
      const decomposed = join(root, `re\u0301sume\u0301-${pair}.txt`);
      await writeFile(composed, `Composed twin ${pair}: lighthouse keepers.`);
      await writeFile(decomposed, `Decomposed twin ${pair}: lighthouse keepers.`);
      const answers = await Promise.all(
        [composed, decomposed].map((path) => ingestPath(path, { wait: false })),
      );
      const accepted = answers.filter((a) => !(a as { isError?: boolean }).isError);
      const refused = answers.filter((a) => (a as { isError?: boolean }).isError);
      expect(accepted).toHaveLength(1);
      expect(toolError(refused[0])).toMatch(/whose path gives the same id; pass documentId/);
      const { jobId, documentId } = structured<Acknowledged>(accepted[0]);
      expect((await waitForJobEnd(client, jobId)).state).toBe('completed');
      const winner = answers[0] === accepted[0] ? composed : decomposed;
      const doc = structured<{ metadata: Record<string, unknown>; version: number }>(
        await client.callTool({ name: 'get_document', arguments: { documentId, collection: 'paths' } }),
      );
      expect(doc).toMatchObject({ version: 1, metadata: { 'hopper.path': winner } });
    }
  });
});

describe('path ingests and the ingest fingerprint', () => {
  it('a repeat of the same path ingest is the same job; new metadata, title or type make a new version', async () => {
    const path = join(root, 'lamps.md');
    await writeFile(path, '# Lamps\n\nThe keeper trims the wick of the harbour lamp.\n');
    const first = structured<Ingested & { jobId: string }>(
      await ingestPath(path, { metadata: { team: 'ops', area: 'north' } }),
    );
    expect(first).toMatchObject({ documentId: 'lamps.md', state: 'completed', version: 1 });
    // The same file and arguments (metadata keys in another order): one ingest, also with wait: false,
    // which answers with the outcome of the ingest already done.
    const again = structured<Ingested & { jobId: string }>(
      await ingestPath(path, { metadata: { area: 'north', team: 'ops' } }),
    );
    expect(again).toMatchObject({ jobId: first.jobId, version: 1 });
    const quick = structured<Ingested & { jobId: string }>(
      await ingestPath(path, { metadata: { team: 'ops', area: 'north' }, wait: false }),
    );
    expect(quick).toMatchObject({ jobId: first.jobId, state: 'completed', version: 1 });
    const doc = structured<{ metadata: Record<string, unknown>; version: number }>(
      await client.callTool({
        name: 'get_document',
        arguments: { documentId: 'lamps.md', collection: 'paths' },
      }),
    );
    expect(doc).toMatchObject({ version: 1, metadata: { team: 'ops', area: 'north', 'hopper.path': path } });

    // Same bytes, other arguments: each a new version of the same document.
    const remeta = structured<Ingested>(await ingestPath(path, { metadata: { team: 'ops' } }));
    expect(remeta).toMatchObject({ documentId: 'lamps.md', version: 2 });
    const retitled = structured<Ingested>(
      await ingestPath(path, { metadata: { team: 'ops' }, title: 'Lamps' }),
    );
    expect(retitled).toMatchObject({ version: 3 });
    const retyped = structured<Ingested>(
      await ingestPath(path, { metadata: { team: 'ops' }, title: 'Lamps', mediaType: 'text/plain' }),
    );
    expect(retyped).toMatchObject({ version: 4 });
    // And the last one again is the same ingest.
    expect(
      structured<Ingested>(
        await ingestPath(path, { metadata: { team: 'ops' }, title: 'Lamps', mediaType: 'text/plain' }),
      ),
    ).toMatchObject({ version: 4 });

    // Metadata 'hopper.path' is Hopper's own: a caller cannot set it.
    expect(toolError(await ingestPath(path, { metadata: { 'hopper.path': '/elsewhere' } }))).toMatch(
      /metadata 'hopper\.path' is set by Hopper/,
    );
  });
});
