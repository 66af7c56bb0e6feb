import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { LOCAL_TENANT, loadCorpus, sizeLabel, type Corpus } from './corpus/corpus.ts';
import { loadRemoteCorpus } from './corpus/remote-corpus.ts';
import { startHopperStack, type HopperStack } from './hopper-stack.ts';
import { ingestThroughput } from './scenarios/ingest-throughput.ts';
import { userIngestScenario } from './user-ingest.ts';
import { userIngest100kScenario } from './user-ingest-100k.ts';
import { toolCallHeaders } from '../load/mcp-wire.ts';
import { startCeilingPeer, startPlainSdkFixedPeer, startPlainSdkPeer, type Peer } from './peers.ts';
import type { Profile } from './profiles.ts';
import { progressLatency } from './scenarios/progress-latency.ts';
import type { BenchReport } from './report.ts';
import { createRecycler, type Recyclable } from './recycler.ts';
import type { RunContext, ScenarioId, ScenarioResult } from './scenario.ts';
import { cachedSearch, sdkClientSearch, searchTopK, uncachedSearch } from './scenarios/search-scenarios.ts';
import { round } from '@hopper/harness';
import { checkTargets } from './targets.ts';
import { getJob, ingestAcknowledge, smallEmbed } from './scenarios/tool-scenarios.ts';
import { tracingOverhead } from './scenarios/tracing-scenario.ts';
import { Workloads } from './workloads.ts';

export interface BenchOptions {
  profile: Profile;
  command: string;
  log: (line: string) => void;
  /** A running Hopper to measure instead of the bench's own stacks. */
  deployment?: Deployment;
  /** Each Hopper gateway the bench starts writes a V8 CPU profile here when it stops. */
  cpuProfileDir?: string;
  /** Where the public collections are (`scifact/` for the user-ingest scenarios). */
  datasetsDir?: string;
  /** Only the scenarios with these ids (`search-cached`, `user-ingest`, …); all when absent. */
  only?: string[];
  /** Added to the environment of the gateways the bench starts (an A/B switch such as HOPPER_MCP_FAST_PATH). */
  gatewayEnv?: Record<string, string>;
}

/** The collections beside the repository, as `npm run eval` finds them. */
const DEFAULT_DATASETS_DIR = '../shared/datasets';

/** A Hopper the bench did not start (`--url`). */
export interface Deployment {
  url: string;
  /** An API key, for a deployment with HOPPER_API_KEYS. */
  token?: string;
  /** The deployment's store directory, readable from here: enables the plain-SDK peer. */
  store?: string;
  /** The tenant the token acts for (what the plain-SDK peer searches as). */
  tenant: string;
}

/**
 * The whole benchmark. On the bench's own stacks: for each corpus size, a fresh stack on a copy
 * of the corpus and both peers on the same store, then the scenarios; the first corpus gets every
 * scenario, larger ones only the search scenarios (the other tools do not read the corpus).
 * Against a deployment: the profile's largest corpus, ingested through MCP, and every scenario
 * that does not need to control the stack.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const { profile, log, deployment } = options;
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const workloads = new Workloads(randomBytes(6).toString('hex'));
  const scratch = await mkdtemp(join(tmpdir(), 'hopper-bench-peers-'));
  const corpora: BenchReport['corpora'] = [];
  const scenarios: ScenarioResult[] = [];
  const wanted = (id: string) => options.only === undefined || options.only.includes(id);
  const runScenarios = async (ctx: RunContext, label: string, all: boolean) => {
    const run = async (name: string, scenario: () => Promise<ScenarioResult>) => {
      const id = SCENARIO_IDS[name];
      if (id !== undefined && !wanted(id)) return;
      log(`${name} (${label})`);
      const result = await scenario();
      scenarios.push(result);
      const restarted = await ctx.recycle();
      if (restarted.length > 0) {
        log(`  restarted ${restarted.join(', ')}`);
        result.notes = [...(result.notes ?? []), `Restarted after this scenario: ${restarted.join(', ')}.`];
      }
    };
    await run('search, cached', () => cachedSearch(ctx, label));
    await run('search, uncached', () => uncachedSearch(ctx, label));
    await run('search, by topK', () => searchTopK(ctx, label));
    if (!all) return;
    await run('search through the SDK client', () => sdkClientSearch(ctx, label));
    await run('tracing overhead', () => tracingOverhead(ctx, label));
    await run('get_job', () => getJob(ctx));
    await run('embed_texts', () => smallEmbed(ctx));
    await run('ingest_document, wait: false', () => ingestAcknowledge(ctx));
    await run('ingest throughput', () => ingestThroughput(ctx));
    await run('progress latency', () => progressLatency(ctx));
  };
  try {
    if (deployment) {
      const chunks = Math.max(...profile.corpora);
      const label = sizeLabel(chunks);
      const headers: Record<string, string> = deployment.token
        ? { authorization: `Bearer ${deployment.token}` }
        : {};
      const { info, ingested } = await loadRemoteCorpus(deployment.url, headers, chunks, log);
      corpora.push({ ...info, label, reused: !ingested });
      await withDeployment(deployment, headers, scratch, workloads, profile, log, (ctx) =>
        runScenarios(ctx, label, true),
      );
    } else {
      // First, on its own fresh stack: what a new user sees while documents arrive one call each.
      if (wanted('user-ingest')) {
        log('user ingest (fresh stack, empty store)');
        scenarios.push(
          await userIngestScenario({
            documents: profile.userIngestDocuments,
            datasetsDir: options.datasetsDir ?? DEFAULT_DATASETS_DIR,
            afterMs: Math.max(1_000, profile.durationMs),
            restMs: profile.userIngestRestMs,
            ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
            ...(options.gatewayEnv ? { gatewayEnv: options.gatewayEnv } : {}),
            log,
          }),
        );
      }
      // Then the same on a store preloaded to ~100k chunks, again on its own fresh stack.
      if (wanted('user-ingest-100k')) {
        log('user ingest at ~100k chunks (fresh stack, preloaded)');
        scenarios.push(
          await userIngest100kScenario({
            sizes: profile.userIngest100k,
            datasetsDir: options.datasetsDir ?? DEFAULT_DATASETS_DIR,
            afterMs: Math.max(1_000, profile.durationMs),
            ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
            ...(options.gatewayEnv ? { gatewayEnv: options.gatewayEnv } : {}),
            log,
          }),
        );
      }
      // The corpora serve only the scenarios `runScenarios` runs: with none of them asked for, none
      // is built and no stack or peer started.
      const sizes = Object.values(SCENARIO_IDS).some(wanted) ? profile.corpora : [];
      for (const [index, chunks] of sizes.entries()) {
        const corpus = await loadCorpus(chunks, log);
        const label = sizeLabel(chunks);
        corpora.push({ ...corpus.info, label, reused: !corpus.built });
        log(`${label} corpus: starting the stack and the peers`);
        await withStack(corpus, scratch, workloads, options, (ctx) => runScenarios(ctx, label, index === 0));
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return {
    command: options.command,
    profile: profile.name,
    startedAt: startedAt.toISOString(),
    durationS: round((Date.now() - startedAt.getTime()) / 1000, 1),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverage: { start: round(loadAtStart, 1), end: round(loadavg()[0] ?? 0, 1) },
    },
    hopper: deployment
      ? `the deployment at ${deployment.url} (its processes are not sampled)`
      : 'own stack (redis-server with AOF, one gateway, one worker, default settings, built-in embedder)',
    loadGenerator:
      'in this process: closed loop (each client sends its next call when the last one has answered), raw MCP over HTTP ' +
      'through undici (one keep-alive connection per client, the headers and `_meta` envelope the SDK v2 client sends), ' +
      `${profile.warmupMs} ms warm-up then ${profile.durationMs} ms measured per step; Hopper and the peers are measured ` +
      'one after the other at each step, never at once.',
    corpora,
    targets: checkTargets(scenarios, profile),
    scenarios,
    notes: notes(profile),
  };
}

async function withStack(
  corpus: Corpus,
  scratch: string,
  workloads: Workloads,
  options: BenchOptions,
  body: (ctx: RunContext) => Promise<void>,
): Promise<void> {
  const { profile, log } = options;
  const stack: HopperStack = await startHopperStack(corpus, {
    ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
    ...(options.gatewayEnv ? { gatewayEnv: options.gatewayEnv } : {}),
  });
  const peers: Peer[] = [];
  try {
    // The ceiling sends what Hopper sends for a cached search (the second call is the cached one).
    const cachedBody = workloads.cachedSearch()(0, 0);
    await hopperAnswer(stack.mcpUrl, cachedBody);
    const sample = await hopperAnswer(stack.mcpUrl, cachedBody);
    peers.push(await startPlainSdkPeer(stack.storeDir, LOCAL_TENANT));
    peers.push(await startPlainSdkFixedPeer(sample, join(scratch, `fixed-${corpus.info.chunks}.json`)));
    peers.push(await startCeilingPeer(sample, join(scratch, `ceiling-${corpus.info.chunks}.json`)));
    // One call each first: opening the store's tables is not part of any step.
    for (const url of [stack.mcpUrl, ...peers.map((peer) => peer.url)]) {
      await hopperAnswer(url, workloads.uncachedSearch()(0, 0));
    }
    const ctx: RunContext = {
      profile,
      workloads,
      hopperUrl: stack.mcpUrl,
      hopperPids: {
        gateway: stack.gateway.pid,
        worker: stack.workers[0]?.pid ?? 0,
        redis: stack.redis.process.pid ?? 0,
      },
      peers,
      headers: {},
      stack,
      log,
      recycle: createRecycler(() => [
        {
          target: 'hopper',
          pid: () => stack.gateway.pid,
          ended: () => stack.gateway.ended(),
          async restart() {
            await stack.restartGateway();
            ctx.hopperUrl = stack.mcpUrl;
            ctx.hopperPids.gateway = stack.gateway.pid;
            await hopperAnswer(stack.mcpUrl, workloads.uncachedSearch()(0, 0));
          },
        },
        ...peers.map((peer) => recyclablePeer(peer, workloads)),
      ]),
    };
    await body(ctx);
  } finally {
    await Promise.all(peers.map((peer) => peer.process.stop()));
    await stack.stop();
  }
}

async function withDeployment(
  deployment: Deployment,
  headers: Record<string, string>,
  scratch: string,
  workloads: Workloads,
  profile: Profile,
  log: (line: string) => void,
  body: (ctx: RunContext) => Promise<void>,
): Promise<void> {
  const peers: Peer[] = [];
  try {
    const sample = await hopperAnswer(deployment.url, workloads.cachedSearch()(0, 0), headers);
    if (deployment.store) peers.push(await startPlainSdkPeer(deployment.store, deployment.tenant));
    peers.push(await startPlainSdkFixedPeer(sample, join(scratch, 'fixed.json')));
    peers.push(await startCeilingPeer(sample, join(scratch, 'ceiling.json')));
    for (const peer of peers) await hopperAnswer(peer.url, workloads.uncachedSearch()(0, 0));
    await body({
      profile,
      workloads,
      hopperUrl: deployment.url,
      hopperPids: {},
      peers,
      headers,
      log,
      // The deployment is not the bench's to restart.
      recycle: createRecycler(() => peers.map((peer) => recyclablePeer(peer, workloads))),
    });
  } finally {
    await Promise.all(peers.map((peer) => peer.process.stop()));
  }
}

/** The ids of the scenarios `runScenarios` runs by name (what `--only` selects). */
const SCENARIO_IDS: Record<string, ScenarioId> = {
  'search, cached': 'search-cached',
  'search, uncached': 'search-uncached',
  'search, by topK': 'search-topk',
  'search through the SDK client': 'search-sdk-client',
  'tracing overhead': 'tracing-overhead',
  get_job: 'get-job',
  embed_texts: 'embed-small',
  'ingest_document, wait: false': 'ingest-ack',
  'ingest throughput': 'ingest-throughput',
  'progress latency': 'progress-latency',
};

/** A peer as the recycler sees it; a restarted one opens its store with a first call. */
function recyclablePeer(peer: Peer, workloads: Workloads): Recyclable {
  return {
    target: peer.name,
    pid: () => peer.process.pid,
    ended: () => peer.process.ended(),
    async restart() {
      await peer.restart();
      await hopperAnswer(peer.url, workloads.uncachedSearch()(0, 0));
    },
  };
}

/** The JSON-RPC `result` a server answers to a `search` body, failing loudly on anything else. */
async function hopperAnswer(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await request(url, {
    method: 'POST',
    headers: { ...toolCallHeaders('search'), ...headers },
    body,
  });
  const text = await response.body.text();
  const answer = JSON.parse(text) as { result?: { isError?: boolean } };
  if (response.statusCode !== 200 || !answer.result || answer.result.isError) {
    throw new Error(`search at ${url} failed (${response.statusCode}): ${text.slice(0, 500)}`);
  }
  return answer.result;
}

function notes(profile: Profile): string[] {
  return [
    'Everything runs on this one machine: the load generator, Hopper (gateway, worker, Redis) and the peers share its cores. A step measures one server at a time; the others idle.',
    'Client CPU/call is the load generator’s own CPU per successful call; where it is a large part of a core, the generator, not the server, limits the throughput (see the ceiling).',
    'Latency is client-side: from sending the request to the last byte of the answer.',
    'The plain-SDK peer reads the same LanceDB copy as Hopper, with the same query embedding and store search, and no cache.',
    ...(profile.name === 'full'
      ? []
      : [
          `The ${profile.name} profile runs short steps (${profile.durationMs} ms): p99 and max rest on few samples.`,
        ]),
  ];
}
