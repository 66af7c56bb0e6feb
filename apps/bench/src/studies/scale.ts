/**
 * `npm run scale`: does adding workers add throughput, on one machine?
 *
 * For 1, 2 and 4 worker processes against one Redis (a private redis-server with its append-only
 * file on, as in production) and one LanceDB store: two gateway processes behind a round-robin
 * proxy take the same batch of documents (`ingest_document`, `wait: false`) while the ingest
 * queue is paused, then the queue is resumed and the workers drain it. Reported per run: drain
 * time, chunks per second, the workers' CPU time and peak memory, and Redis commands per job.
 * Then MCP calls (`search`, a legacy client's session, an ingest that waits with progress) go
 * through the proxy with no sticky sessions, so consecutive requests land on different gateways.
 *
 * The embedder is the built-in one (CPU-bound, in the worker), so the figures show what the
 * workers themselves cost. Prints a Markdown report and writes reports/scale.md and .json.
 *
 *   npm run scale -- [--workers 1,2,4] [--docs 120] [--paragraphs 40]
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createKeys, jobCatalog } from '@hopper/contracts';
import {
  cpuSeconds,
  peakRssMb,
  percentile,
  round,
  startNode,
  writeReportFiles,
  type NodeProcess,
} from '@hopper/harness';
import { startRedisServer } from '@hopper/redis';
import { connectSdkClient } from '../load/load-generator.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.ts';

const { values: options } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,4' },
    docs: { type: 'string', default: '120' },
    paragraphs: { type: 'string', default: '40' },
    out: { type: 'string', default: 'reports' },
  },
});
const workerCounts = options.workers.split(',').map(Number);
const docCount = Number(options.docs);
const paragraphs = Number(options.paragraphs);

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/** CPU seconds and peak resident memory (MB) of a live process, from /proc. */
const usage = (pid: number) => ({ cpuS: cpuSeconds(pid) ?? 0, peakMb: peakRssMb(pid) ?? 0 });

const WORDS = (
  'lighthouse keeper lamp wick paraffin lens fresnel storm harbour pilot beacon signal coast ' +
  'tide reef gale fog horn rotation clockwork glass brass oil watch log ledger supply boat ' +
  'island cliff granite tower stair gallery lantern mercury bath shutter flash range chart'
).split(' ');

/** A document of `paragraphs` paragraphs of ~90 words, different for every `seed`. */
function documentText(seed: number): string {
  let state = seed * 2_654_435_761;
  const word = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return WORDS[state % WORDS.length];
  };
  return Array.from({ length: paragraphs }, (_, p) => {
    const sentence = () => `${Array.from({ length: 15 }, word).join(' ')}.`;
    return `## Part ${p + 1} of log ${seed}\n\n${Array.from({ length: 6 }, sentence).join(' ')}`;
  }).join('\n\n');
}

function structured<T>(result: unknown): T {
  const r = result as { isError?: boolean; structuredContent?: T; content?: { text?: string }[] };
  if (r.isError) throw new Error(`tool failed: ${r.content?.map((c) => c.text).join(' ')}`);
  return r.structuredContent as T;
}

interface RunResult {
  workers: number;
  docs: number;
  chunks: number;
  failed: number;
  enqueueS: number;
  drainS: number;
  chunksPerS: number;
  jobsPerS: number;
  workerCpuS: number;
  workerPeakMb: number;
  redisCommandsPerJob: number;
  /** Time one job spent on a worker (picked up to finished), median and 90th percentile. */
  jobP50Ms: number;
  jobP90Ms: number;
  /** 1-minute load average when the drain ended: other work on the machine skews the figures. */
  load: number;
  proxied: number[];
}

interface McpResult {
  searchCalls: number;
  searchErrors: number;
  searchP50Ms: number;
  searchP99Ms: number;
  searchPerS: number;
  legacyCalls: number;
  legacyErrors: number;
  waitingIngest: string;
  progressEvents: number;
  proxied: number[];
}

interface Deployment {
  gateways: NodeProcess[];
  workers: NodeProcess[];
  proxy: RoundRobinProxy;
  queue: Queue;
  stop(): Promise<void>;
}

async function deploy(redisUrl: string, workers: number): Promise<Deployment> {
  const prefix = `scale-${workers}-${randomUUID().slice(0, 8)}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'hopper-scale-'));
  const env = {
    REDIS_URL: redisUrl,
    HOPPER_REDIS_PREFIX: prefix,
    HOPPER_DATA_DIR: dataDir,
    HOPPER_PORT: '0',
    // Info: the gateways announce their URLs at info level.
    HOPPER_LOG_LEVEL: 'info',
    HOPPER_WORKER_METRICS_PORT: '0',
  };
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(jobCatalog.ingest.queue, { connection, prefix: createKeys(prefix).bullPrefix });
  // Paused before any worker starts: the batch is queued first, then drained with a stopwatch.
  await queue.pause();
  const start = (app: 'gateway' | 'worker', ready: string) =>
    startNode(app, join(root, `apps/${app}/src/main.ts`), {
      env: { ...process.env, ...env },
      isReady: (line) => line.includes(ready),
      readyTimeoutMs: 30_000,
    });
  const gateways = await Promise.all([0, 1].map(() => start('gateway', 'gateway listening')));
  const urls = gateways.map((g) => new URL((JSON.parse(g.readyLine) as { url: string }).url).origin);
  const proxy = await startRoundRobinProxy(urls);
  const workerProcesses = await Promise.all(
    Array.from({ length: workers }, () => start('worker', 'worker ready')),
  );
  return {
    gateways,
    workers: workerProcesses,
    proxy,
    queue,
    async stop() {
      await Promise.all([...workerProcesses, ...gateways].map((p) => p.stop()));
      await proxy.close();
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      const keys = await connection.keys(`${prefix}:*`);
      if (keys.length > 0) await connection.del(...keys);
      connection.disconnect();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

async function ingestRun(redisUrl: string, redis: Redis, workers: number): Promise<RunResult> {
  const d = await deploy(redisUrl, workers);
  try {
    const clients = await Promise.all([0, 1, 2, 3].map(() => connectSdkClient(`${d.proxy.url}/mcp`)));
    const started = performance.now();
    let nextDoc = 0;
    await Promise.all(
      clients.map(async (client) => {
        while (nextDoc < docCount) {
          const i = nextDoc++;
          structured(
            await client.callTool({
              name: 'ingest_document',
              arguments: { content: documentText(i + 1), documentId: `log-${i + 1}`, wait: false },
            }),
          );
        }
      }),
    );
    const enqueueS = (performance.now() - started) / 1000;
    await Promise.all(clients.map((c) => c.close()));

    const commandsBefore = await commandsProcessed(redis);
    const before = d.workers.map((w) => usage(w.pid));
    const t0 = performance.now();
    await d.queue.resume();
    let counts = await d.queue.getJobCounts('completed', 'failed');
    while ((counts.completed ?? 0) + (counts.failed ?? 0) < docCount) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      counts = await d.queue.getJobCounts('completed', 'failed');
    }
    const drainS = (performance.now() - t0) / 1000;
    const after = d.workers.map((w) => usage(w.pid));
    // The bench's own polling is part of the count; it is small next to the jobs' commands.
    const commands = (await commandsProcessed(redis)) - commandsBefore;

    const completed = await d.queue.getJobs(['completed'], 0, docCount);
    const chunks = completed.reduce(
      (sum, job) => sum + Number((job.returnvalue as { chunks?: number })?.chunks ?? 0),
      0,
    );
    const jobMs = completed
      .map((job) => (job.finishedOn ?? 0) - (job.processedOn ?? 0))
      .sort((a, b) => a - b);
    return {
      workers,
      docs: docCount,
      chunks,
      failed: counts.failed ?? 0,
      enqueueS: round(enqueueS, 2),
      drainS: round(drainS, 2),
      chunksPerS: Math.round(chunks / drainS),
      jobsPerS: round(docCount / drainS, 1),
      workerCpuS: round(
        after.reduce((s, u, i) => s + u.cpuS - (before[i]?.cpuS ?? 0), 0),
        1,
      ),
      workerPeakMb: Math.max(...after.map((u) => u.peakMb)),
      redisCommandsPerJob: Math.round(commands / docCount),
      jobP50Ms: Math.round(percentile(jobMs, 50)),
      jobP90Ms: Math.round(percentile(jobMs, 90)),
      load: round(loadavg()[0] ?? 0, 1),
      proxied: [...d.proxy.counts],
    };
  } finally {
    await d.stop();
  }
}

/** MCP calls through the round-robin proxy: no sticky sessions, any call on any gateway. */
async function mcpRun(redisUrl: string): Promise<McpResult> {
  const d = await deploy(redisUrl, 2);
  try {
    await d.queue.resume();
    const url = `${d.proxy.url}/mcp`;
    const seed = await connectSdkClient(url);
    for (let i = 1; i <= 8; i++) {
      structured(
        await seed.callTool({
          name: 'ingest_document',
          arguments: { content: documentText(i), documentId: `log-${i}` },
        }),
      );
    }
    d.proxy.counts.fill(0);

    // Searches: 8 concurrent clients, 50 calls each, every call its own HTTP request; a few calls
    // first so both gateways have opened the store's tables before the clock runs.
    const clients = await Promise.all(Array.from({ length: 8 }, () => connectSdkClient(url)));
    for (const client of clients)
      await client.callTool({ name: 'search', arguments: { query: 'lamp', topK: 5 } });
    const latencies: number[] = [];
    let searchErrors = 0;
    const started = performance.now();
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; i < 50; i++) {
          const t = performance.now();
          try {
            structured(
              await client.callTool({
                name: 'search',
                arguments: { query: `${WORDS[(c * 7 + i) % WORDS.length]} lamp keeper`, topK: 5 },
              }),
            );
            latencies.push(performance.now() - t);
          } catch {
            searchErrors++;
          }
        }
      }),
    );
    const searchS = (performance.now() - started) / 1000;
    await Promise.all(clients.map((c) => c.close()));
    const sorted = latencies.sort((a, b) => a - b);

    // A legacy client: `initialize` lands on one gateway, its next requests on the other.
    const legacy = new LegacyClient({ name: 'hopper-scale-legacy', version: '1.0.0' });
    await legacy.connect(new LegacyTransport(new URL(url)));
    let legacyErrors = 0;
    const legacyCalls = 20;
    for (let i = 0; i < legacyCalls; i++) {
      try {
        structured(await legacy.callTool({ name: 'list_documents', arguments: { limit: 5 } }));
      } catch {
        legacyErrors++;
      }
    }
    await legacy.close();

    // An ingest that waits with progress: one long response stream through the proxy.
    let progressEvents = 0;
    const waited = structured<{ state: string; chunks?: number }>(
      await seed.callTool(
        {
          name: 'ingest_document',
          arguments: { content: documentText(999).repeat(4), documentId: 'log-waited' },
        },
        { onprogress: () => progressEvents++ },
      ),
    );
    await seed.close();
    return {
      searchCalls: latencies.length + searchErrors,
      searchErrors,
      searchP50Ms: round(percentile(sorted, 50), 1),
      searchP99Ms: round(percentile(sorted, 99), 1),
      searchPerS: Math.round(latencies.length / searchS),
      legacyCalls,
      legacyErrors,
      waitingIngest: `${waited.state} (${waited.chunks ?? 0} chunks)`,
      progressEvents,
      proxied: [...d.proxy.counts],
    };
  } finally {
    await d.stop();
  }
}

function report(runs: RunResult[], mcp: McpResult, machine: string): string {
  const base = runs.find((r) => r.workers === 1)?.chunksPerS ?? runs[0]?.chunksPerS ?? 1;
  const best = runs.reduce((a, b) => (b.chunksPerS > a.chunksPerS ? b : a));
  const cpuPerChunkMs = (best.workerCpuS * 1000) / best.chunks;
  const coreRate = Math.round(1000 / cpuPerChunkMs);
  const chunksPerJob = best.chunks / best.docs;
  // A single Redis core serves on the order of 100k simple commands per second; the queue's
  // commands per job set the ceiling that adding workers cannot pass.
  const redisJobsCeiling = Math.round(100_000 / Math.max(1, best.redisCommandsPerJob));
  const lines = [
    '# Scale test: workers and gateways on one machine',
    '',
    `Machine: ${machine}. Built-in embedder (CPU-bound, in the worker), ${runs[0]?.docs} documents of`,
    `${paragraphs} paragraphs each per run, one Redis (AOF on), one LanceDB store on local disk, two`,
    'gateways behind a round-robin proxy. `npm run scale` produced this report.',
    '',
    '## Ingest: drain a queued batch with 1, 2 and 4 worker processes',
    '',
    ...(Math.max(...runs.map((r) => r.load)) > cpus().length
      ? [
          `**The machine was busy with other work** (load average up to ${Math.max(...runs.map((r) => r.load))} on`,
          `${cpus().length} cores): wall-clock figures are lower bounds and the speed-up column mostly shows`,
          'the contention. Worker CPU time per chunk (below) does not depend on it.',
          '',
        ]
      : []),
    '| workers | documents | chunks | failed | drain time (s) | chunks/s | jobs/s | speed-up | job time p50 / p90 (ms) | worker CPU (s) | peak RSS per worker (MB) | Redis commands per job | load avg |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(
      (r) =>
        `| ${r.workers} | ${r.docs} | ${r.chunks} | ${r.failed} | ${r.drainS} | ${r.chunksPerS} | ${r.jobsPerS} | ${round(r.chunksPerS / base, 2)}x | ${r.jobP50Ms} / ${r.jobP90Ms} | ${r.workerCpuS} | ${r.workerPeakMb} | ${r.redisCommandsPerJob} | ${r.load} |`,
    ),
    '',
    `Enqueueing each batch through the proxy took ${runs.map((r) => `${r.enqueueS} s`).join(', ')}; the two`,
    `gateways took ${runs.map((r) => r.proxied.join('/')).join(', ')} of the requests.`,
    '',
    '## MCP through two gateways, no sticky sessions',
    '',
    '| what | result |',
    '| --- | --- |',
    `| search, 8 clients x 50 calls | ${mcp.searchCalls - mcp.searchErrors}/${mcp.searchCalls} ok, ${mcp.searchPerS} calls/s, p50 ${mcp.searchP50Ms} ms, p99 ${mcp.searchP99Ms} ms |`,
    `| legacy client (initialize, then calls on either gateway) | ${mcp.legacyCalls - mcp.legacyErrors}/${mcp.legacyCalls} ok |`,
    `| ingest waiting with progress through the proxy | ${mcp.waitingIngest}, ${mcp.progressEvents} progress notifications |`,
    `| requests per gateway | ${mcp.proxied.join(' / ')} |`,
    '',
    '## What this predicts',
    '',
    `- Worker CPU per chunk: ${round(cpuPerChunkMs, 2)} ms (parse, chunk, embed, write), so one core`,
    `  ingests about ${coreRate} chunks/s with the built-in embedder. The best run reached`,
    `  ${best.chunksPerS} chunks/s with ${best.workers} worker(s) on ${cpus().length} cores shared with Redis,`,
    '  both gateways and the load generator.',
    `- A node with C cores for workers should ingest about C x ${coreRate} chunks/s; N such nodes about`,
    `  N x C x ${coreRate} chunks/s, as long as the shared parts keep up.`,
    `- Redis: ${best.redisCommandsPerJob} commands per ingest job (${round(chunksPerJob, 0)} chunks). At ~100k`,
    `  commands/s for one Redis core that is ~${redisJobsCeiling} jobs/s, about`,
    `  ${Math.round(redisJobsCeiling * chunksPerJob)} chunks/s: the ceiling for any number of workers with`,
    '  documents of this size (larger documents move it up).',
    '- The store: each job is one LanceDB commit. On object storage a commit is a conditional PUT,',
    '  tens of milliseconds, and concurrent writers to one table retry on conflict; that rate, not',
    '  the workers, bounds many nodes writing one collection. It was not measured here (local disk).',
    '- With a remote embeddings API instead of the built-in model, workers wait on the network and',
    '  one process runs several jobs at once (HOPPER_WORKER_CONCURRENCY), so more jobs per core fit.',
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const redisDir = await mkdtemp(join(tmpdir(), 'hopper-scale-redis-'));
  const server = await startRedisServer({ dir: redisDir, appendOnly: true });
  const redis = new Redis(server.url);
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  try {
    const runs: RunResult[] = [];
    for (const workers of workerCounts) {
      process.stderr.write(`ingest with ${workers} worker(s)...\n`);
      runs.push(await ingestRun(server.url, redis, workers));
    }
    process.stderr.write('MCP calls through the proxy...\n');
    const mcp = await mcpRun(server.url);
    const markdown = report(runs, mcp, machine);
    process.stdout.write(markdown);
    await writeReportFiles(join(root, options.out), 'scale', markdown, {
      machine,
      paragraphs,
      runs,
      mcp,
      at: new Date().toISOString(),
    });
  } finally {
    redis.disconnect();
    await server.stop();
    await rm(redisDir, { recursive: true, force: true });
  }
}

await main();
