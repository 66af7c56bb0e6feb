import type { Client } from '@modelcontextprotocol/client';
import { connectSdkClient } from '../../load/load-generator.ts';
import type { RunContext, ScenarioResult } from '../scenario.ts';
import { round, summarize, UsageSampler } from '@hopper/harness';
import { INGEST_COLLECTION } from '../workloads.ts';

/** About 150 chunks per document with the default chunker. */
const DOCUMENT_CHARS = 110_000;
const SUBMITTERS = 4;
const KIND = 'throughput';
const POLL_MS = 50;

/**
 * End-to-end ingest throughput: documents go in through MCP (`wait: false`) while the ingest queue
 * is paused, then the queue is released and the clock runs until the worker has finished the last
 * one (parse, chunk, embed with the built-in embedder, write to LanceDB, bump the cache epoch).
 */
export async function ingestThroughput(ctx: RunContext): Promise<ScenarioResult> {
  const result = {
    id: 'ingest-throughput' as const,
    title: 'ingest throughput, end to end',
    description:
      `Markdown documents of ~${Math.round(DOCUMENT_CHARS / 1000)} KB queued through MCP with the queue paused, then drained by ` +
      'the worker(s): chunks per second from release to the last job finished, per worker, with the workers’ CPU.',
    measurements: [],
    ratios: [],
  };
  const stack = ctx.stack;
  if (!stack)
    return {
      ...result,
      skipped: 'needs the bench’s own stack (it pauses the queue and samples the workers)',
    };

  const documents = ctx.profile.throughputDocuments;
  await stack.pauseIngest();
  try {
    await submit(ctx, documents);
  } catch (error) {
    await stack.resumeIngest();
    throw error;
  }
  const before = await stack.finishedIngestCount();
  const sampler = new UsageSampler(
    Object.fromEntries(
      stack.workers.map((worker, i) => [`worker${stack.workers.length > 1 ? ` ${i + 1}` : ''}`, worker.pid]),
    ),
  );
  sampler.start();
  const started = performance.now();
  await stack.resumeIngest();
  while ((await stack.finishedIngestCount()) < before + documents) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const drainS = (performance.now() - started) / 1000;
  const usage = sampler.stop();
  const jobs = await stack.finishedIngests(ctx.workloads.documentPrefix(KIND));
  const chunks = jobs.reduce((sum, job) => sum + job.chunks, 0);
  const chunksPerS = chunks / drainS;
  return {
    ...result,
    throughput: {
      workers: stack.workers.length,
      documents,
      chunks,
      failed: jobs.filter((job) => job.failed).length,
      drainS: round(drainS, 2),
      chunksPerS: round(chunksPerS, 1),
      chunksPerSPerWorker: round(chunksPerS / stack.workers.length, 1),
      jobMs: summarize(jobs.filter((job) => !job.failed).map((job) => job.workerMs)),
      usage,
    },
  };
}

/** Sends the documents from a few clients at once; each call returns as soon as its job is queued. */
async function submit(ctx: RunContext, documents: number): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: SUBMITTERS }, () => connectSdkClient(ctx.hopperUrl, ctx.headers)),
  );
  let next = 0;
  const send = async (client: Client) => {
    while (next < documents) {
      const { documentId, content } = ctx.workloads.document(KIND, next++, DOCUMENT_CHARS);
      const answer = await client.callTool({
        name: 'ingest_document',
        arguments: { content, documentId, collection: INGEST_COLLECTION, wait: false },
      });
      if (answer.isError) throw new Error(`queueing ${documentId} failed: ${JSON.stringify(answer.content)}`);
    }
  };
  try {
    await Promise.all(clients.map(send));
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
