import { readFile } from 'node:fs/promises';
import { Pool } from 'undici';
import { toolCallBody, toolCallHeaders, classifyAnswer } from '../load/mcp-wire.ts';
import { startHopperStack } from './hopper-stack.ts';
import type { ReadFigures, ReadTool, ScenarioResult, UserIngestResult } from './scenario.ts';
import { LatencyRecorder, round } from '@hopper/harness';
import { SyntheticText } from './corpus/synthetic-text.ts';

/**
 * Ingestion as users do it: a public collection's documents sent one call each through the REST
 * API (`POST /v1/documents`, `wait: false`), a few callers at a time, honouring 429 `Retry-After`,
 * while readers call `search` (each query different, so uncached), `get_document` and
 * `list_documents` over MCP. Then the same reads once the last job has completed.
 */
export interface UserIngestOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  headers?: Record<string, string>;
  documents: CorpusDocument[];
  /** Search texts; each is sent with a counter so no two searches share a cache key. */
  queries: string[];
  submitters: number;
  readers: number;
  /** How long the reads run after ingestion. */
  afterMs: number;
  /**
   * Then, when set, the reads go on unrecorded for this long (the store comes to rest: its recent
   * writes move into the main table once 30 s pass without one), and are recorded again for
   * `afterMs` as the `rest` phase.
   */
  restMs?: number;
  collection: string;
  /**
   * Documents per call: 1 sends each through `POST /v1/documents`; more sends them as batches
   * through `POST /v1/documents/batch` (one job per batch).
   */
  perCall?: number;
  log?: (line: string) => void;
}

const READ_TOOLS: readonly ReadTool[] = ['search', 'get_document', 'list_documents'];

export interface CorpusDocument {
  id: string;
  title: string;
  text: string;
}

async function readJsonl<T>(file: string): Promise<T[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

export async function userIngest(options: UserIngestOptions): Promise<UserIngestResult> {
  const log = options.log ?? (() => undefined);
  const corpus = options.documents;
  const queries = options.queries;
  const base = new URL(options.baseUrl);
  const pool = new Pool(base.origin, { connections: options.submitters + options.readers + 4 });
  const headers = options.headers ?? {};
  const docId = (d: CorpusDocument) => `doc-${d.id}`;

  // Readers: each picks tools in turn; search queries cycle through the set with a counter so that
  // no two searches share a cache key.
  const stored: string[] = [];
  type Phase = 'during' | 'after' | 'rest';
  /** `settling`: between `after` and `rest`, reads go on but are not recorded. */
  let phase: Phase | 'settling' = 'during';
  const slots = () =>
    Object.fromEntries(READ_TOOLS.map((t) => [t, { rec: new LatencyRecorder(), errors: 0 }])) as Record<
      ReadTool,
      { rec: LatencyRecorder; errors: number }
    >;
  const recorders: Record<Phase, ReturnType<typeof slots>> = {
    during: slots(),
    after: slots(),
    rest: slots(),
  };
  let stopReaders = false;
  let callId = 0;
  const readCall = async (tool: ReadTool, n: number): Promise<void> => {
    let args: Record<string, unknown>;
    if (tool === 'search') {
      const query = `${queries[n % queries.length] ?? 'cells'} ${Math.floor(n / queries.length)}`;
      args = { query, topK: 10, collection: options.collection };
    } else if (tool === 'get_document') {
      if (stored.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return;
      }
      args = {
        documentId: stored[Math.floor(Math.random() * stored.length)],
        collection: options.collection,
      };
    } else {
      args = { limit: 20, collection: options.collection };
    }
    const current = phase;
    const started = performance.now();
    const response = await pool.request({
      path: '/mcp',
      method: 'POST',
      headers: { ...toolCallHeaders(tool), ...headers },
      body: toolCallBody(++callId, tool, args),
    });
    const body = await response.body.text();
    const ms = performance.now() - started;
    if (current === 'settling') return;
    const slot = recorders[current][tool];
    if (classifyAnswer(response.statusCode, body) === 'ok') slot.rec.add(ms);
    else if (!(tool === 'get_document' && body.includes('not_found'))) {
      slot.errors++;
      if (slot.errors <= 3) log(`${tool} error: ${response.statusCode} ${body.slice(0, 200)}`);
    }
  };
  let readCount = 0;
  const readers = Array.from({ length: options.readers }, async (_, r) => {
    let i = r;
    while (!stopReaders) {
      const n = readCount++;
      await readCall(READ_TOOLS[i++ % READ_TOOLS.length] as ReadTool, n).catch(() => undefined);
    }
  });

  // Submitters: each takes the next document (or batch of documents) in line.
  const perCall = options.perCall ?? 1;
  let next = 0;
  let busy = 0;
  let failedSubmits = 0;
  const jobs: string[] = [];
  let submitted = 0;
  const started = performance.now();
  const submitter = async (): Promise<void> => {
    while (next < corpus.length) {
      const unit = corpus.slice(next, next + perCall);
      next += unit.length;
      const documents = unit.map((doc) => ({ content: doc.text, title: doc.title, documentId: docId(doc) }));
      const [path, body] =
        perCall === 1
          ? ['/v1/documents', { ...documents[0], collection: options.collection, wait: false }]
          : ['/v1/documents/batch', { documents, collection: options.collection, wait: false }];
      for (;;) {
        const response = await pool.request({
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
        const text = await response.body.text();
        if (response.statusCode === 429) {
          busy++;
          const after = Number(response.headers['retry-after'] ?? 1);
          await new Promise((resolve) => setTimeout(resolve, Math.max(0.05, after) * 1000));
          continue;
        }
        if (response.statusCode >= 300) {
          failedSubmits += unit.length;
          if (failedSubmits <= 3) log(`submit failed: ${response.statusCode} ${text.slice(0, 200)}`);
          break;
        }
        const answer = JSON.parse(text) as { jobId: string };
        jobs.push(answer.jobId);
        submitted += unit.length;
        stored.push(...unit.map(docId));
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: options.submitters }, submitter));
  log(
    `submitted ${submitted} documents (${jobs.length} calls) in ${round((performance.now() - started) / 1000, 1)} s (${busy} busy answers)`,
  );

  // Wait for every job to end: poll the jobs not yet seen finished.
  let pending = [...jobs];
  let chunks = 0;
  let failed = failedSubmits;
  while (pending.length > 0) {
    const still: string[] = [];
    for (let i = 0; i < pending.length; i += 16) {
      const group = pending.slice(i, i + 16);
      await Promise.all(
        group.map(async (jobId) => {
          const response = await pool.request({
            path: `/v1/jobs/${encodeURIComponent(jobId)}`,
            method: 'GET',
            headers,
          });
          const job = JSON.parse(await response.body.text()) as {
            state?: string;
            result?: { chunks?: number; failed?: number; documents?: { chunks?: number }[] };
          };
          if (job.state === 'completed') {
            // An ingest's result counts its chunks; a batch's lists every document's.
            chunks += job.result?.documents
              ? job.result.documents.reduce((sum, d) => sum + (d.chunks ?? 0), 0)
              : (job.result?.chunks ?? 0);
            failed += job.result?.failed ?? 0;
          } else if (job.state === 'failed' || job.state === 'cancelled') failed += perCall;
          else still.push(jobId);
        }),
      );
      // Only the head of the line matters while it is unfinished: the rest are later in the queue.
      if (still.length > 0) {
        still.push(...pending.slice(i + 16));
        break;
      }
    }
    pending = still;
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ingestS = (performance.now() - started) / 1000;
  log(`ingested ${submitted} documents in ${round(ingestS, 1)} s`);

  phase = 'after';
  await new Promise((resolve) => setTimeout(resolve, options.afterMs));
  const rest = (options.restMs ?? 0) > 0;
  if (rest) {
    phase = 'settling';
    log(`reads unrecorded for ${round((options.restMs ?? 0) / 1000, 1)} s while the store comes to rest`);
    await new Promise((resolve) => setTimeout(resolve, options.restMs));
    phase = 'rest';
    await new Promise((resolve) => setTimeout(resolve, options.afterMs));
  }
  stopReaders = true;
  await Promise.all(readers);
  await pool.close();

  const figures = (p: Phase) => {
    const byTool = Object.fromEntries(
      READ_TOOLS.map((t) => {
        const slot = recorders[p][t];
        return [t, { calls: slot.rec.count, errors: slot.errors, latencyMs: slot.rec.summary() }];
      }),
    ) as Record<ReadTool, ReadFigures>;
    // Two tools with the same figures to the hundredth are a recording fault, not a measurement
    // (seen with V8's Maglev on in the bench's process: see docs/benchmark.md).
    const seen = new Map<string, ReadTool>();
    for (const t of READ_TOOLS) {
      const { calls, latencyMs } = byTool[t];
      if (calls === 0) continue;
      const key = JSON.stringify(latencyMs);
      const other = seen.get(key);
      if (other) {
        log(`recording fault: ${t} and ${other} have the same figures ${p} ingestion; do not quote them`);
      }
      seen.set(key, t);
    }
    return byTool;
  };
  return {
    documents: submitted,
    perCall,
    readers: options.readers,
    failed,
    ingestS: round(ingestS, 2),
    docsPerS: round(submitted / ingestS, 1),
    chunks,
    chunksPerS: round(chunks / ingestS, 1),
    busy,
    during: figures('during'),
    after: figures('after'),
    ...(rest ? { rest: figures('rest') } : {}),
  };
}

/**
 * A BEIR-style collection (`corpus.jsonl` with `_id`/`id`, `title`, `text`; `queries.jsonl`), or
 * undefined when its folder is not there.
 */
export async function readCollection(
  directory: string,
  limit: number,
): Promise<{ documents: CorpusDocument[]; queries: string[] } | undefined> {
  try {
    const raw = await readJsonl<{ _id?: string; id?: string; title?: string; text?: string }>(
      `${directory}/corpus.jsonl`,
    );
    const documents = raw
      .map((d) => ({ id: String(d._id ?? d.id), title: d.title ?? '', text: d.text ?? '' }))
      .filter((d) => d.text.trim() !== '')
      .slice(0, limit);
    const queries = (await readJsonl<{ text: string }>(`${directory}/queries.jsonl`)).map((q) => q.text);
    return { documents, queries };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Abstract-sized synthetic documents, for machines without the public collections. */
export function syntheticCollection(count: number): { documents: CorpusDocument[]; queries: string[] } {
  const text = new SyntheticText(7);
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const sentence = (words: number) => Array.from({ length: words }, () => text.word(random)).join(' ') + '.';
  const documents = Array.from({ length: count }, (_, i) => ({
    id: `synthetic-${i}`,
    title: sentence(8),
    text: Array.from({ length: 10 }, () => sentence(18)).join(' '),
  }));
  const queries = Array.from({ length: 300 }, () => sentence(6));
  return { documents, queries };
}

/** Documents per batch call in the scenario's batch run (SciFact's 5,183 make 11 calls). */
export const BATCH_PER_CALL = 500;

/**
 * The benchmark's scenario: a fresh stack on an empty store with the default limits, as `npm start`
 * gives a new user, fed SciFact (or synthetic abstracts) twice, each on its own fresh stack: one
 * document per REST call, then batches through `POST /v1/documents/batch`.
 */
export async function userIngestScenario(options: {
  documents: number;
  datasetsDir: string;
  afterMs: number;
  /** See {@link UserIngestOptions.restMs}; 0 measures no `rest` phase. */
  restMs: number;
  /** Where the gateways write V8 CPU profiles (`--cpu-prof`), if anywhere. */
  cpuProfileDir?: string;
  /** Added to the gateway's environment (`--gateway-env`, an A/B switch). */
  gatewayEnv?: Record<string, string>;
  log: (line: string) => void;
}): Promise<ScenarioResult> {
  const collection = await readCollection(`${options.datasetsDir}/scifact`, options.documents);
  const source = collection ? 'SciFact abstracts' : 'synthetic abstracts (SciFact not found)';
  const { documents, queries } = collection ?? syntheticCollection(options.documents);
  // At least two batches, so a run always has a batch in flight while another is submitted.
  const batch = Math.max(1, Math.min(BATCH_PER_CALL, Math.ceil(documents.length / 2)));
  const runs: UserIngestResult[] = [];
  for (const perCall of [1, batch]) {
    options.log(`user ingest: ${perCall === 1 ? 'one document per call' : `${perCall} documents per call`}`);
    const stack = await startHopperStack(undefined, {
      defaultLimits: true,
      ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
      ...(options.gatewayEnv ? { gatewayEnv: options.gatewayEnv } : {}),
    });
    try {
      runs.push(
        await userIngest({
          baseUrl: new URL(stack.mcpUrl).origin,
          documents,
          queries,
          // Batches are few and large: two callers keep one in flight while the next is sent.
          submitters: perCall === 1 ? 8 : 2,
          readers: 10,
          afterMs: options.afterMs,
          restMs: options.restMs,
          collection: 'user-ingest',
          perCall,
          log: options.log,
        }),
      );
    } finally {
      await stack.stop();
    }
  }
  return {
    id: 'user-ingest',
    title: 'ingestion as users do it, with reads during and after',
    description:
      `${documents.length} ${source} sent into an empty store on a fresh stack with the default limits, twice: ` +
      `one document per call (REST POST /v1/documents, wait: false, 8 callers, 429s waited out), then ${batch} per ` +
      'call (POST /v1/documents/batch, 2 callers). Meanwhile 10 MCP clients call search (every query new, so ' +
      'uncached), get_document and list_documents in turn; then the same reads once the last job has completed' +
      (options.restMs > 0
        ? `, and again ${Math.round(options.restMs / 1000)} s later, the store at rest (its recent writes moved into the main table after 30 s without one).`
        : '.'),
    measurements: [],
    ratios: [],
    userIngest: runs,
  };
}

// Standalone, against a running Hopper:
// node apps/bench/src/bench/user-ingest.ts --url http://127.0.0.1:8080 --documents 2000 [--per-call 500]
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
  };
  const count = Number(arg('documents', '2000'));
  const dataset = arg('dataset', new URL('../../../../../shared/datasets/scifact', import.meta.url).pathname);
  const { documents, queries } = (await readCollection(dataset, count)) ?? syntheticCollection(count);
  const result = await userIngest({
    baseUrl: arg('url', 'http://127.0.0.1:8080'),
    documents,
    queries,
    submitters: Number(arg('submitters', '8')),
    readers: Number(arg('readers', '10')),
    afterMs: Number(arg('after-ms', '10000')),
    collection: arg('collection', 'user-ingest'),
    perCall: Number(arg('per-call', '1')),
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(result, null, 2));
}
