import { fileURLToPath } from 'node:url';
import { rawMcpCaller } from '../../load/load-generator.ts';
import { measure } from '../measure.ts';
import { cleanEnvironment } from '../hopper-stack.ts';
import { startNode } from '@hopper/harness';
import { ratiosOf, stepPlan, type RunContext, type ScenarioResult } from '../scenario.ts';

const TRACING_CLIENTS = 50;

/**
 * Cached search on a gateway with tracing off (the default) and on a second gateway of the same
 * stack with tracing on, exporting every span over OTLP/HTTP to a local sink that discards them.
 */
export async function tracingOverhead(ctx: RunContext, corpus: string): Promise<ScenarioResult> {
  const result = {
    id: 'tracing-overhead' as const,
    title: 'search, cached, tracing off and on',
    corpus,
    description:
      'The same cached searches against the gateway with tracing off and against a second gateway of the same stack ' +
      'with OTEL_EXPORTER_OTLP_ENDPOINT set (every call traced, batched exports to a local OTLP/HTTP sink that discards them).',
    measurements: [],
    ratios: [],
  };
  const stack = ctx.stack;
  if (!stack) return { ...result, skipped: 'needs the bench’s own stack (it starts a second gateway)' };
  const clients = ctx.profile.sweep.includes(TRACING_CLIENTS) ? TRACING_CLIENTS : ctx.profile.clients;
  const sink = await startNode(
    'otlp sink',
    fileURLToPath(new URL('../../peers/otlp-sink.ts', import.meta.url)),
    {
      env: cleanEnvironment(),
      isReady: (line) => line.startsWith('listening '),
    },
  );
  const traced = await stack.startGateway({
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.readyLine.split(' ')[1] as string,
  });
  try {
    const tracedUrl = (JSON.parse(traced.readyLine) as { url: string }).url;
    const plan = stepPlan(ctx.profile, clients);
    ctx.log(`  tracing off, ${clients} clients`);
    const off = await measure(
      'hopper',
      plan,
      () => rawMcpCaller(ctx.hopperUrl, 'search', ctx.workloads.cachedSearch(), clients),
      ctx.hopperPids,
    );
    ctx.log(`  tracing on, ${clients} clients`);
    const on = await measure(
      'hopper (tracing on)',
      plan,
      () => rawMcpCaller(tracedUrl, 'search', ctx.workloads.cachedSearch(), clients),
      { ...ctx.hopperPids, gateway: traced.pid, sink: sink.pid },
    );
    return { ...result, measurements: [off, on], ratios: ratiosOf([off, on], 'hopper (tracing on)') };
  } finally {
    await traced.stop();
    await sink.stop();
  }
}
