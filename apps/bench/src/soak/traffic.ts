import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

/** The operations of the soak's mix, named after the MCP tools they call. */
export const operations = [
  'search',
  'get_document',
  'list_documents',
  'embed_texts',
  'ingest_document',
  'get_job',
  'cancel_job',
] as const;
export type Operation = (typeof operations)[number];

/**
 * Relative frequency of each operation: reads dominate, as they do for a search service. Ingests
 * are further bounded by MAX_OUTSTANDING_INGESTS, so the worker keeps up and the queue stays short.
 */
const weights: Record<Operation, number> = {
  search: 40,
  get_document: 15,
  list_documents: 10,
  embed_texts: 10,
  ingest_document: 10,
  get_job: 10,
  cancel_job: 5,
};

/**
 * Ingests queued or running at once. A soak measures whether the processes hold steady under
 * sustained work, not how deep a backlog grows when the load outruns one worker.
 */
const MAX_OUTSTANDING_INGESTS = 3;

const COLLECTION = 'soak';
const POOL_SIZE = 30;

const WORDS = (
  'lighthouse keeper lamp wick paraffin lens fresnel storm harbour pilot beacon signal coast tide reef ' +
  'gale fog horn rotation clockwork glass brass oil watch log ledger supply boat island cliff granite ' +
  'tower stair gallery lantern mercury bath shutter flash range chart'
).split(' ');

export interface OperationStats {
  calls: number;
  errors: number;
  /** Call durations in milliseconds. */
  durations: number[];
}

export interface TrafficError {
  operation: Operation;
  message: string;
  atSeconds: number;
}

/** A small deterministic generator, so two soaks send the same kind of traffic. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A document of a few Markdown sections, different for every `seed`. */
function documentText(seed: number): string {
  const next = random(seed + 1);
  const word = () => WORDS[Math.floor(next() * WORDS.length)]!;
  const sentence = () => `${Array.from({ length: 14 }, word).join(' ')}.`;
  return Array.from(
    { length: 4 },
    (_, p) => `## Part ${p + 1} of log ${seed}\n\n${Array.from({ length: 5 }, sentence).join(' ')}`,
  ).join('\n\n');
}

interface ToolResult {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content?: { text?: string }[];
}

/**
 * Mixed MCP traffic from `concurrency` clients (the official SDK client, one connection each). With
 * a `rate`, the clients together start that many calls a second, on a fixed schedule (open loop): a
 * run sends the same traffic on a fast machine and a slow one, so their memory trends compare. A
 * client that falls behind its schedule does not burst to catch up; the report shows the rate
 * reached. Without one (rate 0), each client calls one tool after another with no pause. Every
 * failed call is recorded: a soak passes only with none.
 */
export class Traffic {
  readonly stats = Object.fromEntries(
    operations.map((op) => [op, { calls: 0, errors: 0, durations: [] as number[] }]),
  ) as Record<Operation, OperationStats>;
  readonly errors: TrafficError[] = [];
  readonly #url: string;
  readonly #concurrency: number;
  /** Calls a second over all clients; 0 for as fast as they can. */
  readonly #rate: number;
  readonly #next = random(42);
  readonly #recentJobs: string[] = [];
  readonly #outstanding = new Set<string>();
  readonly #startedAt = performance.now();
  #ingests = 0;
  #stopping = false;
  #running: Promise<void>[] = [];

  constructor(url: string, concurrency: number, rate = 0) {
    this.#url = url;
    this.#concurrency = concurrency;
    this.#rate = rate;
  }

  /** Ingests the document pool (and waits for it), so reads have something to find. */
  async seed(): Promise<void> {
    const client = await this.#connect();
    try {
      await Promise.all(
        Array.from({ length: POOL_SIZE }, async (_, i) => {
          const result = (await client.callTool({
            name: 'ingest_document',
            arguments: { content: documentText(i), documentId: `log-${i}`, collection: COLLECTION },
          })) as ToolResult;
          if (result.isError) throw new Error(`seeding failed: ${result.content?.[0]?.text ?? ''}`);
        }),
      );
    } finally {
      await client.close();
    }
  }

  start(): void {
    this.#running = Array.from({ length: this.#concurrency }, () => this.#user());
  }

  /** Lets every client finish its current call, then closes them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#running);
  }

  get calls(): number {
    return operations.reduce((sum, op) => sum + this.stats[op].calls, 0);
  }

  async #connect(): Promise<Client> {
    const client = new Client({ name: 'hopper-soak', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(this.#url)));
    return client;
  }

  async #user(): Promise<void> {
    const client = await this.#connect();
    // Each client keeps its own schedule: one call every `interval` ms.
    const interval = this.#rate > 0 ? (1000 * this.#concurrency) / this.#rate : 0;
    let due = performance.now() + Math.random() * interval;
    try {
      while (!this.#stopping) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        if (this.#stopping) break;
        // Behind schedule, the next call is due one interval from now: no burst to catch up.
        due = Math.max(due + interval, performance.now());
        await this.#one(client, this.#pick());
      }
    } finally {
      await client.close();
    }
  }

  #pick(): Operation {
    const total = operations.reduce((sum, op) => sum + weights[op], 0);
    let roll = this.#next() * total;
    for (const op of operations) {
      roll -= weights[op];
      if (roll < 0) {
        if (op === 'ingest_document' && this.#outstanding.size >= MAX_OUTSTANDING_INGESTS) return 'search';
        if ((op === 'get_job' || op === 'cancel_job') && this.#recentJobs.length === 0) return 'search';
        return op;
      }
    }
    return 'search';
  }

  async #one(client: Client, op: Operation): Promise<void> {
    const args = this.#arguments(op);
    const stats = this.stats[op];
    const started = performance.now();
    try {
      const result = (await client.callTool({ name: op, arguments: args })) as ToolResult;
      if (result.isError) throw new Error(result.content?.map((c) => c.text).join(' ') ?? 'tool error');
      this.#follow(op, result.structuredContent ?? {});
    } catch (error) {
      stats.errors += 1;
      // The first few of each kind tell the story; thousands of copies would not.
      if (this.errors.length < 50) {
        this.errors.push({
          operation: op,
          message: error instanceof Error ? error.message : String(error),
          atSeconds: Math.round((performance.now() - this.#startedAt) / 1000),
        });
      }
    } finally {
      stats.calls += 1;
      stats.durations.push(performance.now() - started);
    }
  }

  #arguments(op: Operation): Record<string, unknown> {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(this.#next() * items.length)]!;
    const word = () => pick(WORDS);
    switch (op) {
      case 'search':
        // Two or three words from a small vocabulary: repeats hit the cache, new pairs miss it.
        return {
          query: Array.from({ length: 2 + Math.floor(this.#next() * 2) }, word).join(' '),
          collection: COLLECTION,
          ...(this.#next() < 0.2 ? { mode: pick(['text', 'vector'] as const) } : {}),
        };
      case 'get_document':
        return { documentId: `log-${Math.floor(this.#next() * POOL_SIZE)}`, collection: COLLECTION };
      case 'list_documents':
        return { collection: COLLECTION, limit: 10 };
      case 'embed_texts': {
        // Mostly small batches (answered inline); one in ten large enough for the worker's queue.
        const count = this.#next() < 0.1 ? 40 : 1 + Math.floor(this.#next() * 8);
        return { texts: Array.from({ length: count }, () => `${word()} ${word()} ${word()}`) };
      }
      case 'ingest_document': {
        // A new version of a pooled document each time: the store's size stays bounded.
        this.#ingests += 1;
        const i = Math.floor(this.#next() * POOL_SIZE);
        return {
          content: documentText(POOL_SIZE + this.#ingests),
          documentId: `log-${i}`,
          collection: COLLECTION,
          wait: false,
        };
      }
      case 'get_job':
        // Mostly jobs not seen finished yet: polling them is how a client (and this mix) learns they ended.
        return { jobId: this.#recentJob(0.7) };
      case 'cancel_job':
        // Half the time a job that may still run (a real cancellation), else any recent one.
        return { jobId: this.#recentJob(0.5) };
    }
  }

  /** A recent job: with probability `unfinished`, one not seen finished yet (if any). */
  #recentJob(unfinished: number): string {
    const outstanding = [...this.#outstanding];
    const from = outstanding.length > 0 && this.#next() < unfinished ? outstanding : this.#recentJobs;
    return from[Math.floor(this.#next() * from.length)]!;
  }

  /** Keeps the ids of recent jobs, and which ingests are still queued or running. */
  #follow(op: Operation, output: Record<string, unknown>): void {
    const jobId = typeof output.jobId === 'string' ? output.jobId : undefined;
    if (!jobId) return;
    const finished = ['completed', 'failed', 'cancelled'].includes(String(output.state));
    if (op === 'ingest_document') {
      this.#recentJobs.push(jobId);
      if (this.#recentJobs.length > 50) this.#recentJobs.shift();
      if (!finished) this.#outstanding.add(jobId);
    } else if (finished) {
      this.#outstanding.delete(jobId);
    }
  }
}
