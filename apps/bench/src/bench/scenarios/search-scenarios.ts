import { rawMcpCaller, sdkCaller, type BodyOf } from '../../load/load-generator.ts';
import { measure, type Measurement, type Target } from '../measure.ts';
import type { NodeProcess } from '@hopper/harness';
import { ratiosOf, stepPlan, type RunContext, type ScenarioResult } from '../scenario.ts';

/** How the server behind `target` ended, if the bench started it and it has exited. */
function endedHow(ctx: RunContext, target: Target, extra: ExtraTarget[]): string | undefined {
  const ended =
    target === 'hopper'
      ? ctx.stack?.gateway.ended()
      : (extra.find((e) => e.target === target)?.process.ended() ??
        ctx.peers.find((p) => p.name === target)?.process.ended());
  return ended === undefined ? undefined : `${target} ${ended}`;
}

/** A server measured in a sweep besides Hopper's gateway and the peers (another gateway of the stack). */
interface ExtraTarget {
  target: Target;
  url: string;
  process: NodeProcess;
  pids: Record<string, number>;
}

/** One step of a sweep: clients, what varies besides them, and the requests. */
interface SweepStep {
  clients: number;
  variant?: string;
  bodyOf: () => BodyOf;
}

/**
 * Searches through the raw load generator, step by step, against Hopper and each peer in turn
 * (interleaved, so a change in the machine's other load hits all of them alike).
 */
async function sweep(
  ctx: RunContext,
  steps: SweepStep[],
  peers = ctx.peers,
  extra: ExtraTarget[] = [],
): Promise<{ measurements: Measurement[]; notes: string[] }> {
  const targets: {
    target: Target;
    url: string;
    pids: Record<string, number>;
    headers: Record<string, string>;
  }[] = [
    { target: 'hopper', url: ctx.hopperUrl, pids: ctx.hopperPids, headers: ctx.headers },
    ...extra.map(({ target, url, pids }) => ({ target, url, pids, headers: ctx.headers })),
    ...peers.map((peer) => ({
      target: peer.name,
      url: peer.url,
      pids: { peer: peer.process.pid },
      headers: {},
    })),
  ];
  const measurements: Measurement[] = [];
  const notes: string[] = [];
  // A server stopped for its memory at some load is not sent more: it would only go further.
  const stopped = new Map<Target, string>();
  for (const { clients, variant, bodyOf } of steps) {
    for (const { target, url, pids, headers } of targets) {
      const step = `${target}, ${clients} clients${variant ? `, ${variant}` : ''}`;
      const reason = stopped.get(target) ?? endedHow(ctx, target, extra);
      if (reason !== undefined) {
        notes.push(`${step}: not run (${reason}).`);
        continue;
      }
      ctx.log(`  ${step}`);
      const measurement = await measure(
        target,
        stepPlan(ctx.profile, clients),
        () => rawMcpCaller(url, 'search', bodyOf(), clients, headers),
        pids,
        variant,
        // Hopper's gateways share the stack's Redis; the peers use none.
        target.startsWith('hopper') && ctx.stack ? () => ctx.stack!.redisCommands() : undefined,
      );
      measurements.push(measurement);
      if (measurement.stopped !== undefined)
        stopped.set(target, `at ${clients} clients the ${measurement.stopped}`);
    }
  }
  return { measurements, notes };
}

/**
 * Cached searches against Hopper and, on the bench's own stack, a second gateway of the same stack
 * with the MCP fast path off (`hopper (SDK path)`: every hit goes through the SDK, as before #16),
 * measured in the same steps, so the fast path's gain is a ratio within one run.
 */
export async function cachedSearch(ctx: RunContext, corpus: string): Promise<ScenarioResult> {
  await warmCache(ctx, ctx.hopperUrl);
  const sdkPath = ctx.stack ? await ctx.stack.startGateway({ HOPPER_MCP_FAST_PATH: 'off' }) : undefined;
  const extra: ExtraTarget[] = [];
  if (sdkPath) {
    const url = (JSON.parse(sdkPath.readyLine) as { url: string }).url;
    await warmCache(ctx, url);
    extra.push({
      target: 'hopper (SDK path)',
      url,
      process: sdkPath,
      pids: { ...ctx.hopperPids, gateway: sdkPath.pid },
    });
  }
  let swept: { measurements: Measurement[]; notes: string[] };
  try {
    swept = await sweep(
      ctx,
      ctx.profile.sweep.map((clients) => ({ clients, bodyOf: () => ctx.workloads.cachedSearch() })),
      ctx.peers,
      extra,
    );
  } finally {
    await sdkPath?.stop();
  }
  const { measurements, notes } = swept;
  return {
    id: 'search-cached',
    title: 'search, cached',
    corpus,
    description:
      `The same ${ctx.workloads.cachedQueries.length} queries (topK 5) over and over, asked once each beforehand: every Hopper answer ` +
      'comes from its cache, in-process (L1) or, once an L1 entry is older than its 10 s TTL, from Redis (L2). ' +
      'Hopper (SDK path) is a second gateway of the same stack with HOPPER_MCP_FAST_PATH=off: its hits go through the MCP SDK. ' +
      'The plain-SDK peer has no cache and searches every time: that is the comparison. ' +
      'The plain-SDK-fixed peer is the same SDK server whose tool does no I/O and returns this answer, built once: ' +
      'the floor of any answer served through the SDK. ' +
      "The ceiling answers Hopper's own answer bytes without doing anything.",
    measurements,
    ratios: ratiosOf(measurements),
    notes,
  };
}

/** Asks a gateway each of the cached scenario's queries once, so its first step starts with a full cache. */
async function warmCache(ctx: RunContext, url: string): Promise<void> {
  const caller = rawMcpCaller(url, 'search', ctx.workloads.cachedSearch(), 1, ctx.headers);
  try {
    for (let n = 0; n < ctx.workloads.cachedQueries.length; n++) {
      const outcome = await caller.call(0, n, AbortSignal.timeout(30_000));
      if (outcome.kind !== 'ok')
        throw new Error(`warming the cache failed: ${outcome.detail ?? outcome.kind}`);
    }
  } finally {
    await caller.close();
  }
}

/** The peers that search: the fixed-answer ones have nothing to say where Hopper cannot cache. */
const searchingPeers = (ctx: RunContext) =>
  ctx.peers.filter((peer) => peer.name !== 'ceiling' && peer.name !== 'plain-sdk-fixed');

export async function uncachedSearch(ctx: RunContext, corpus: string): Promise<ScenarioResult> {
  const { measurements, notes } = await sweep(
    ctx,
    ctx.profile.sweep.map((clients) => ({ clients, bodyOf: () => ctx.workloads.uncachedSearch() })),
    [...searchingPeers(ctx), ...ctx.peers.filter((peer) => peer.name === 'ceiling')],
  );
  return {
    id: 'search-uncached',
    title: 'search, uncached',
    corpus,
    description:
      'A new random query on every call (2-4 words of middling frequency, topK 5, hybrid mode): Hopper embeds it and ' +
      'runs both store queries, as the plain-SDK peer does; neither cache can answer.',
    measurements,
    ratios: ratiosOf(measurements),
    notes,
  };
}

export async function searchTopK(ctx: RunContext, corpus: string): Promise<ScenarioResult> {
  const steps = ctx.profile.topKs.map((topK) => ({
    clients: ctx.profile.clients,
    variant: `topK ${topK}`,
    bodyOf: () => ctx.workloads.uncachedSearch(topK),
  }));
  // The ceiling answers fixed bytes whatever topK asks for: it has nothing to say here.
  const { measurements, notes } = await sweep(ctx, steps, searchingPeers(ctx));
  return {
    id: 'search-topk',
    title: 'search, uncached, by topK',
    corpus,
    description:
      `Uncached searches asking for ${ctx.profile.topKs.join(', ')} results: each hit carries its chunk's text ` +
      '(twice: in `content` and in `structuredContent`), so the answer grows with topK (the answer column).',
    measurements,
    ratios: ratiosOf(measurements),
    notes,
  };
}

/**
 * The same cached searches through the real MCP SDK v2 client (one `Client` per virtual client,
 * modern protocol) and through the raw generator: what an application sees, and what the SDK
 * client itself costs.
 */
export async function sdkClientSearch(ctx: RunContext, corpus: string): Promise<ScenarioResult> {
  const clients = ctx.profile.clients;
  const queries = ctx.workloads.cachedQueries;
  const plan = stepPlan(ctx.profile, clients);
  ctx.log(`  SDK client, ${clients} clients`);
  const sdk = await measure(
    'hopper (SDK client)',
    plan,
    () =>
      sdkCaller(
        ctx.hopperUrl,
        'search',
        (client, n) => ctx.workloads.searchArguments(queries[(client * 7 + n) % queries.length] as string),
        clients,
        ctx.headers,
      ),
    ctx.hopperPids,
  );
  ctx.log(`  raw generator, ${clients} clients`);
  const raw = await measure(
    'hopper',
    plan,
    () => rawMcpCaller(ctx.hopperUrl, 'search', ctx.workloads.cachedSearch(), clients, ctx.headers),
    ctx.hopperPids,
  );
  return {
    id: 'search-sdk-client',
    title: 'search, cached, through the MCP SDK client',
    corpus,
    description:
      'Cached searches from `@modelcontextprotocol/client` (v2, protocol 2026-07-28 pinned, one Client per virtual client) ' +
      'beside the raw generator at the same clients. The difference is the SDK client: its CPU per call is in the client CPU column. ' +
      '(Without `versionNegotiation` the v2 Client still speaks 2025-11-25: `initialize`, then a session.)',
    measurements: [sdk, raw],
    ratios: ratiosOf([sdk, raw], 'hopper (SDK client)'),
  };
}
