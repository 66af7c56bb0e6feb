import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { percentile } from '@hopper/harness';
import type { Dataset } from './dataset.ts';
import { documentRanking, mean, ndcgAt, recallAt } from './metrics.ts';
import { startStack } from './stack.ts';

export const MODES = ['text', 'vector', 'hybrid'] as const;
export type Mode = (typeof MODES)[number];

/** Chunks asked for per query: enough that ten distinct documents remain after MaxP. */
const SEARCH_TOP_K = 50;

export interface EvalOptions {
  /** Ingests submitted per batch (with `wait: false`) before waiting for them to finish. */
  batchSize?: number;
  /** Tool calls in flight at once. */
  parallel?: number;
  /** Environment for the stack's processes. */
  env?: Record<string, string>;
  /** A file to append the stack's log lines to. */
  stackLog?: string;
  /**
   * Seconds to wait after the last ingest before the queries: the store at rest (its recent
   * writes moved into the main table after 30 s without commits) rather than just written.
   */
  restSeconds?: number;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
}

export interface ModeResult {
  mode: Mode;
  ndcg10: number;
  recall10: number;
  queries: number;
  latencyMs: { p50: number; p95: number };
}

export interface EvalResult {
  dataset: string;
  model: string;
  documents: number;
  ingested: number;
  skipped: { id: string; reason: string }[];
  chunks: number;
  ingestSeconds: number;
  modes: ModeResult[];
  startedAt: string;
}

interface JobState {
  state: string;
  error?: string;
  result?: { chunks?: number; model?: string };
}

/**
 * Ingests a collection through the real path (launcher, gateway over MCP, queue, worker, store)
 * and scores every search mode on its judged queries: nDCG@10 and recall@10 over documents ranked
 * by their best chunk.
 */
export async function runEval(dataset: Dataset, options: EvalOptions = {}): Promise<EvalResult> {
  const log = options.log ?? (() => undefined);
  const batchSize = options.batchSize ?? 250;
  const parallel = options.parallel ?? 8;
  const collection = `eval-${dataset.name.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 64);
  const startedAt = new Date().toISOString();

  const stack = await startStack({
    ...(options.env ? { env: options.env } : {}),
    ...(options.stackLog ? { logFile: options.stackLog } : {}),
  });
  // Pinned to the current protocol, as a current client negotiates it (the v2 SDK's default would
  // use the 2025-11-25 `initialize` handshake).
  const client = new Client(
    { name: 'hopper-eval', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(stack.mcpUrl)));
    const call = async <T>(name: string, args: Record<string, unknown>): Promise<T> => {
      const result = (await client.callTool({ name, arguments: args })) as {
        isError?: boolean;
        structuredContent?: unknown;
        content?: { text?: string }[];
      };
      if (result.isError) throw new Error(result.content?.map((c) => c.text).join(' ') ?? `${name} failed`);
      return result.structuredContent as T;
    };

    // Ingest in batches: submit without waiting, then follow each job to its end.
    const started = performance.now();
    const skipped: EvalResult['skipped'] = [];
    let chunks = 0;
    let model = '';
    const ingestable = dataset.documents.filter((doc) => {
      if (`${doc.title}${doc.text}`.trim() !== '') return true;
      skipped.push({ id: doc.id, reason: 'empty in the source (no title, no text)' });
      return false;
    });
    for (let from = 0; from < ingestable.length; from += batchSize) {
      const batch = ingestable.slice(from, from + batchSize);
      const jobs = await mapLimit(batch, parallel, async (doc) => {
        const handle = await call<{ jobId: string }>('ingest_document', {
          content: doc.text.trim() === '' ? doc.title : doc.text,
          ...(doc.title.trim() === '' ? {} : { title: doc.title.slice(0, 512) }),
          documentId: doc.id,
          collection,
          mediaType: 'text/plain',
          wait: false,
        });
        return { doc, jobId: handle.jobId };
      });
      for (const { doc, jobId } of jobs) {
        const job = await waitForJob((args) => call<JobState>('get_job', args), jobId);
        if (job.state === 'completed') {
          chunks += job.result?.chunks ?? 0;
          model ||= job.result?.model ?? '';
        } else {
          skipped.push({ id: doc.id, reason: `${job.state}: ${job.error ?? ''}` });
        }
      }
      const done = Math.min(from + batchSize, ingestable.length);
      const seconds = (performance.now() - started) / 1000;
      log(`ingested ${done}/${ingestable.length} documents (${(done / seconds).toFixed(0)} docs/s)`);
    }
    const ingestSeconds = (performance.now() - started) / 1000;
    const rest = options.restSeconds ?? 0;
    if (rest > 0) {
      log(`waiting ${rest} s for the store to come to rest`);
      await new Promise((resolve) => setTimeout(resolve, rest * 1000));
    }

    const judgedQueries = dataset.queries.filter(
      (query) => dataset.qrels.has(query.id) && query.text.trim() !== '',
    );
    const modes: ModeResult[] = [];
    for (const mode of MODES) {
      const latencies: number[] = [];
      const scores = await mapLimit(judgedQueries, parallel, async (query) => {
        const t0 = performance.now();
        const out = await call<{ results: { documentId: string }[] }>('search', {
          query: query.text.slice(0, 4000),
          collection,
          topK: SEARCH_TOP_K,
          mode,
        });
        latencies.push(performance.now() - t0);
        const ranking = documentRanking(out.results.map((hit) => hit.documentId));
        const judged = dataset.qrels.get(query.id) ?? new Map<string, number>();
        return { ndcg: ndcgAt(10, ranking, judged), recall: recallAt(10, ranking, judged) };
      });
      latencies.sort((a, b) => a - b);
      const result: ModeResult = {
        mode,
        ndcg10: mean(scores.map((s) => s.ndcg)),
        recall10: mean(scores.map((s) => s.recall)),
        queries: scores.length,
        latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95) },
      };
      log(`${mode}: nDCG@10 ${result.ndcg10.toFixed(4)}, recall@10 ${result.recall10.toFixed(4)}`);
      modes.push(result);
    }
    return {
      dataset: dataset.name,
      model,
      documents: dataset.documents.length,
      ingested: ingestable.length - skipped.filter((s) => !s.reason.startsWith('empty')).length,
      skipped,
      chunks,
      ingestSeconds,
      modes,
      startedAt,
    };
  } catch (error) {
    // The stack's own last words usually say why (a process that stopped, a failed job).
    throw new Error(
      `eval of ${dataset.name} failed; the stack's last output:\n${stack.output.slice(-20).join('\n')}`,
      {
        cause: error,
      },
    );
  } finally {
    await client.close().catch(() => undefined);
    await stack.stop();
  }
}

/** Polls `get_job` until the job ends: the eval has no progress stream to listen to for handles. */
async function waitForJob(
  getJob: (args: { jobId: string }) => Promise<JobState>,
  jobId: string,
): Promise<JobState> {
  for (;;) {
    const job = await getJob({ jobId });
    if (job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled') return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}
