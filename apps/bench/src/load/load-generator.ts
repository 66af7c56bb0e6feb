import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Pool } from 'undici';
import { MODERN_PROTOCOL_VERSION, classifyAnswer, toolCallHeaders, type AnswerKind } from './mcp-wire.ts';
import { LatencyRecorder, round, type LatencySummary } from '@hopper/harness';

/** How long and how hard one measured step runs. */
export interface StepPlan {
  clients: number;
  warmupMs: number;
  durationMs: number;
  /** A server process past this resident size (MB) ends the step (see measure). */
  memoryLimitMb: number;
}

/** What one call returned, as far as the generator cares. */
export interface Outcome {
  kind: AnswerKind | 'http_error';
  /** Where Hopper's result cache answered from (tools that report it); absent: computed. */
  cache?: 'l1' | 'l2';
  /** For errors: what the answer said, for the report. */
  detail?: string;
  /** Size of the answer body (raw calls only). */
  bytes?: number;
}

export interface StepResult {
  clients: number;
  /** Successful calls that ended inside the measured window. */
  requests: number;
  /** Successful calls per second over the window. */
  throughput: number;
  latencyMs: LatencySummary;
  /** Calls the latency figures rest on (see closedLoop). */
  latencySamples: number;
  /** Calls cut off long after the window closed (see closedLoop); non-zero: p99 is a lower bound. */
  unfinished: number;
  errors: { http: number; rpc: number; tool: number; sample?: string };
  /** Mean size of a successful answer's body, in bytes (0 when the caller cannot see it). */
  answerBytes: number;
  /** Answers that came from Hopper's result cache, and how many of those from Redis (L2). */
  cacheHits: number;
  cacheHitsL2: number;
  /**
   * CPU the load generator itself spent per successful call, in microseconds (user + system of
   * this process over the window). On a small machine whatever it spends is taken from the
   * servers, so it is reported beside every figure.
   */
  clientCpuUsPerRequest: number;
  durationS: number;
}

/** How long calls may run on after the window before they are cut off: a stuck server ends the step. */
const STRAGGLER_LIMIT_MS = 120_000;

/** Sends one call for virtual client `client`, its `n`-th; `signal` aborts it. */
export type Call = (client: number, n: number, signal: AbortSignal) => Promise<Outcome>;

/**
 * Closed loop: `plan.clients` virtual clients each make a call, wait for its whole answer and make
 * the next, through a warm-up and the measured window; no call starts after the window.
 *
 * - Throughput: successful calls that ended inside the window, over its length.
 * - Latency: every call that ended after the warm-up, including the ones still running when the
 *   window closed (dropping those would cut off exactly the slow tail). Calls still running two
 *   minutes later, or when `stop` aborts, are cut off and counted as `unfinished`, with the time
 *   they had run as their latency: then p99 and max are lower bounds.
 */
export async function closedLoop(plan: StepPlan, call: Call, stop?: AbortSignal): Promise<StepResult> {
  const latency = new LatencyRecorder();
  const errors: StepResult['errors'] = { http: 0, rpc: 0, tool: 0 };
  let completed = 0;
  let unfinished = 0;
  let cacheHits = 0;
  let cacheHitsL2 = 0;
  let answerBytes = 0;
  let answers = 0;
  const measureFrom = performance.now() + plan.warmupMs;
  const stopAt = measureFrom + plan.durationMs;
  const abort = new AbortController();
  // `stop` ends the step at once: no new calls, and the running ones are cut off.
  const onStop = () => abort.abort();
  stop?.addEventListener('abort', onStop);
  // CPU is read on timers at the window's edges, whatever the clients are doing then.
  let cpuAtStart = process.cpuUsage();
  let cpuInWindow: NodeJS.CpuUsage | undefined;
  const timers = [
    setTimeout(() => (cpuAtStart = process.cpuUsage()), plan.warmupMs),
    setTimeout(() => (cpuInWindow = process.cpuUsage(cpuAtStart)), plan.warmupMs + plan.durationMs),
    setTimeout(() => abort.abort(), plan.warmupMs + plan.durationMs + STRAGGLER_LIMIT_MS),
  ];

  const record = (began: number, outcome: Outcome) => {
    const ended = performance.now();
    if (ended < measureFrom) return;
    if (abort.signal.aborted) {
      unfinished++;
      latency.add(ended - began);
      return;
    }
    if (outcome.kind === 'ok') {
      latency.add(ended - began);
      if (outcome.bytes !== undefined) {
        answerBytes += outcome.bytes;
        answers++;
      }
      if (ended <= stopAt) completed++;
      if (outcome.cache !== undefined) cacheHits++;
      if (outcome.cache === 'l2') cacheHitsL2++;
      return;
    }
    if (outcome.kind === 'http_error') errors.http++;
    else if (outcome.kind === 'rpc_error') errors.rpc++;
    else errors.tool++;
    errors.sample ??= outcome.detail?.slice(0, 300);
  };

  const run = async (client: number) => {
    for (let n = 0; ; n++) {
      const began = performance.now();
      if (began >= stopAt || abort.signal.aborted) return;
      let outcome: Outcome;
      try {
        outcome = await call(client, n, abort.signal);
      } catch (error) {
        outcome = { kind: 'http_error', detail: String(error) };
      }
      record(began, outcome);
    }
  };
  await Promise.all(Array.from({ length: plan.clients }, (_, i) => run(i)));
  for (const timer of timers) clearTimeout(timer);
  stop?.removeEventListener('abort', onStop);
  const cpu = cpuInWindow ?? process.cpuUsage(cpuAtStart);
  const windowS = plan.durationMs / 1000;
  return {
    clients: plan.clients,
    requests: completed,
    throughput: round(completed / windowS, 1),
    latencyMs: latency.summary(),
    latencySamples: latency.count,
    unfinished,
    errors,
    answerBytes: answers === 0 ? 0 : Math.round(answerBytes / answers),
    cacheHits,
    cacheHitsL2,
    clientCpuUsPerRequest: completed === 0 ? 0 : round((cpu.user + cpu.system) / completed, 1),
    durationS: round(windowS, 2),
  };
}

/** A way to send calls, opened for a number of clients and closed after the step. */
export interface Caller {
  call: Call;
  close(): Promise<void>;
}

/** Builds the JSON-RPC body of client `client`'s `n`-th call (string templates: no per-call objects). */
export type BodyOf = (client: number, n: number) => string;

/**
 * MCP over plain HTTP, as the SDK client sends it (see mcp-wire.ts), through undici's pool with
 * one keep-alive connection per client. About 35-80 microseconds of CPU per call here, where
 * node:http's client took 90-130.
 */
export function rawMcpCaller(
  url: string,
  tool: string,
  bodyOf: BodyOf,
  clients: number,
  extraHeaders: Record<string, string> = {},
): Caller {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: clients, pipelining: 1 });
  const headers = { ...toolCallHeaders(tool), ...extraHeaders };
  return {
    async call(client, n, signal) {
      const response = await pool.request({
        path: target.pathname,
        method: 'POST',
        headers,
        body: bodyOf(client, n),
        signal,
      });
      const body = await response.body.text();
      const kind = classifyAnswer(response.statusCode, body);
      if (kind !== 'ok') return { kind, detail: `${response.statusCode} ${body}` };
      const bytes = Buffer.byteLength(body);
      return body.includes('"cached":true')
        ? { kind, bytes, cache: body.includes('"cacheLayer":"l2"') ? 'l2' : 'l1' }
        : { kind, bytes };
    },
    close: () => pool.close(),
  };
}

/**
 * The real MCP SDK v2 client, one `Client` per virtual client, on the modern protocol (pinned, as
 * a current client negotiates it): what an application sees, SDK costs included.
 */
export async function sdkCaller(
  url: string,
  tool: string,
  argumentsOf: (client: number, n: number) => Record<string, unknown>,
  clients: number,
  headers: Record<string, string> = {},
): Promise<Caller> {
  const sdkClients = await Promise.all(Array.from({ length: clients }, () => connectSdkClient(url, headers)));
  return {
    async call(client, n, signal) {
      const sdk = sdkClients[client] as Client;
      const result = await sdk.callTool({ name: tool, arguments: argumentsOf(client, n) }, { signal });
      if (result.isError) return { kind: 'tool_error', detail: JSON.stringify(result.content) };
      const structured = result.structuredContent as { cached?: unknown; cacheLayer?: unknown } | undefined;
      if (structured?.cached !== true) return { kind: 'ok' };
      return { kind: 'ok', cache: structured.cacheLayer === 'l2' ? 'l2' : 'l1' };
    },
    async close() {
      await Promise.all(sdkClients.map((c) => c.close()));
    },
  };
}

export async function connectSdkClient(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client(
    { name: 'hopper-bench', version: '1.0.0' },
    { versionNegotiation: { mode: { pin: MODERN_PROTOCOL_VERSION } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}
