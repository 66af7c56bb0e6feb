import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured, waitForJobEnd } from '../support/clients.ts';
import { TestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
/** What the gateway's RSS must stay under while 60 path ingests of a 30 MiB file arrive at once. */
const GATEWAY_RSS_BOUND = 600 * MiB;

let root: string;
let stack: TestStack;
let client: Client;

beforeAll(async () => {
  root = join(await mkdtemp(join(tmpdir(), 'hopper-path-bounds-')), 'docs');
  await mkdir(root, { recursive: true });
  stack = await TestStack.start({ redisUrl: inject('redisUrl'), env: { HOPPER_INGEST_ROOTS: root } });
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
