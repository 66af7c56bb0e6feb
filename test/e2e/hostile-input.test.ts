import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectModern, structured, waitForJobEnd, type JobOut } from '../support/clients.ts';
import { ISSUE_ROWS, type HostileDocument } from '../support/hostile-documents.ts';
import { TestStack, type ProcessHandle } from '../support/stack.ts';

// Issue #20's worker-side rows, for real: each hostile document (generated here, all under the
// documented size limits) is ingested into a real stack, with a small canary ingest alongside,
// while the worker's RSS and both /healthz endpoints are sampled. Each must end as a completed
// job with a sensible chunk count or a failed job whose reason a person can act on, once (never
// retried into the next worker), with the worker process alive and under the stated ceiling.
// The figures are printed per row (`hostile …` lines).

/**
 * What a worker may hold, at most, while ingesting one hostile document next to a canary: its
 * own baseline (~300-350 MB with the store open and a few documents embedded) plus one parse
 * thread capped at 512 MB of heap and what it holds outside the heap, which no cap bounds yet
 * (the PDF flate bomb's inflated streams: that row peaked at 1,063, 1,440, 1,452 and 1,514 MB in
 * four full runs in December 2026, the last failing the earlier 1,500 MB bound). Before the fix the
 * first row alone took a worker past 2 GB and killed it. The README's hostile-input section says
 * what is left (bounding a parse thread's memory outside its heap).
 */
const RSS_CEILING_MB = 1_700;
/** Generous: a loaded CI machine runs these far slower than a laptop. */
const ROW_TIMEOUT_MS = 180_000;
/**
 * /healthz must answer within the liveness probe's timeout (`timeoutSeconds: 3` in
 * infra/k8s/base): a slower answer is what would count against a pod. Alone, the slowest row
 * answers in 50-400 ms; with the whole suite on two cores, the worker's answer during the PDF
 * flate bomb took 2.4-2.7 s in two of three runs (and 0.4 s in the third), past the 2 s this was.
 */
const HEALTHZ_BOUND_MS = 3_000;

// Engine words that must never reach a client.
const ENGINE_WORDS =
  /call stack|heap out of memory|Bug :|XRef|FormatError|Unexpected token|at position|crashed or killed/i;

type Expectation = { completed: true } | { failed: RegExp } | { either: RegExp };

const EXPECTED: Record<string, Expectation> = {
  'CSV 15,000 rows': { completed: true },
  'JSON 30,000 records': { completed: true },
  'JSONL 100,000 lines': { completed: true },
  // mammoth holds the whole XML tree: past the parse heap it fails, below it completes.
  'DOCX 10 MiB document.xml': { either: /needed more than \d+ MB of memory to parse/ },
  'DOCX zip lying about sizes (1 GiB)': {
    failed: /inflates past the 256 MiB limit, though its zip directory declares/,
  },
  'PDF page tree 100×100×100': { failed: /claims 1,000,000 pages/ },
  // 20M text operators: done within the time budget, or stopped by it.
  'PDF flate bomb 20M Tj': { either: /took longer than \d+ s|needed more than \d+ MB/ },
  'Markdown 200,000 headings': { completed: true },
  'JSON nested 10,000 deep': { failed: /more than 256 levels deep/ },
};

let stack: TestStack;
let client: Client;
let worker: ProcessHandle;
let workerMetrics = '';

beforeAll(async () => {
  stack = await TestStack.start({ redisUrl: inject('redisUrl') });
  client = await connectModern(stack.url);
  const first = stack.workers[0];
  if (!first) throw new Error('no worker');
  worker = first;
  const line = worker.lines.find((l) => l.includes('worker metrics at'));
  workerMetrics = `http://127.0.0.1:${(JSON.parse(line ?? '{}') as { port?: number }).port ?? 0}`;
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

interface Samples {
  peakRssMb: number;
  /** The slowest /healthz answer of either process, and of each. */
  healthzMaxMs: number;
  gatewayHealthzMaxMs: number;
  workerHealthzMaxMs: number;
  healthzFailures: number;
}

/** Samples the worker's RSS (from /proc) and both /healthz endpoints until stopped. */
function sample(): { stop(): Promise<Samples> } {
  const samples: Samples = {
    peakRssMb: 0,
    healthzMaxMs: 0,
    gatewayHealthzMaxMs: 0,
    workerHealthzMaxMs: 0,
    healthzFailures: 0,
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      const status = await readFile(`/proc/${worker.process.pid}/status`, 'utf8').catch(() => '');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      samples.peakRssMb = Math.max(samples.peakRssMb, Math.round(rss));
      await Promise.all(
        (
          [
            [new URL('/healthz', stack.url).href, 'gatewayHealthzMaxMs'],
            [`${workerMetrics}/healthz`, 'workerHealthzMaxMs'],
          ] as const
        ).map(async ([url, slowest]) => {
          const started = performance.now();
          const ok = await fetch(url, { signal: AbortSignal.timeout(10_000) }).then(
            (response) => response.ok,
            () => false,
          );
          const ms = Math.round(performance.now() - started);
          samples[slowest] = Math.max(samples[slowest], ms);
          samples.healthzMaxMs = Math.max(samples.healthzMaxMs, ms);
          if (!ok) samples.healthzFailures++;
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function ingest(document: HostileDocument, documentId: string): Promise<string> {
  const content =
    typeof document.content === 'string'
      ? { content: document.content }
      : { contentBase64: Buffer.from(document.content).toString('base64') };
  const { jobId } = structured<JobOut>(
    await client.callTool({
      name: 'ingest_document',
      arguments: { ...content, mediaType: document.mediaType, documentId, wait: false },
    }),
  );
  return jobId;
}

describe('hostile inputs (issue #20) end with a clear outcome, and the worker survives them', () => {
  ISSUE_ROWS.forEach((row, index) => {
    it(
      row.name,
      async () => {
        const document = await row.make();
        const expected = EXPECTED[row.name];
        if (expected === undefined) throw new Error(`no expectation for ${row.name}`);
        const pid = worker.process.pid;
        const sampler = sample();
        const started = performance.now();
        const jobId = await ingest(document, `hostile-${index}`);
        const canaryId = await ingest(
          { name: 'canary', mediaType: 'text/markdown', content: `# Canary ${index}\n\nThe lamp is lit.` },
          `canary-${index}`,
        );
        const [job, canary] = await Promise.all([
          waitForJobEnd(client, jobId),
          waitForJobEnd(client, canaryId),
        ]);
        const seconds = (performance.now() - started) / 1000;
        const samples = await sampler.stop();
        const chunks = typeof job.result?.['chunks'] === 'number' ? job.result['chunks'] : 0;
        const attemptsLogged = worker.lines.filter(
          (line) => line.includes(jobId) && line.includes('will retry'),
        ).length;
        console.log(
          `hostile ${row.name}: ${(document.content.length / 1024).toFixed(0)} KB, ${seconds.toFixed(1)} s, ` +
            `${chunks} chunks, worker peak RSS ${samples.peakRssMb} MB, /healthz max ${samples.healthzMaxMs} ms ` +
            `(gateway ${samples.gatewayHealthzMaxMs}, worker ${samples.workerHealthzMaxMs}) ` +
            `(${samples.healthzFailures} failed), canary ${canary.state}, ${job.state}` +
            (job.error ? `: ${job.error}` : ''),
        );

        if ('completed' in expected) expect(job.state).toBe('completed');
        if ('failed' in expected) {
          expect(job.state).toBe('failed');
          expect(job.error).toMatch(expected.failed);
        }
        if ('either' in expected && job.state !== 'completed') {
          expect(job.state).toBe('failed');
          expect(job.error).toMatch(expected.either);
        }
        if (job.state === 'completed') {
          // Packed: far fewer chunks than records or headings, never more than one per 100 bytes.
          expect(chunks).toBeGreaterThan(0);
          expect(chunks).toBeLessThan(Math.max(16, document.content.length / 100));
        } else {
          expect(job.error).not.toMatch(ENGINE_WORDS);
          // Failed once: not retried into this worker or the next.
          expect(attemptsLogged).toBe(0);
        }
        expect(canary.state).toBe('completed');
        // The same worker process, alive, under its ceiling, answering health checks throughout.
        expect(worker.process.pid).toBe(pid);
        expect(worker.process.exitCode).toBeNull();
        expect(samples.peakRssMb).toBeLessThan(RSS_CEILING_MB);
        expect(samples.healthzFailures).toBe(0);
        expect(samples.healthzMaxMs).toBeLessThan(HEALTHZ_BOUND_MS);
      },
      ROW_TIMEOUT_MS,
    );
  });
});
