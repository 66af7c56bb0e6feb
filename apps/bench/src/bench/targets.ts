import { round } from '@hopper/harness';
import type { Measurement, Target } from './measure.ts';
import type { Profile } from './profiles.ts';
import type { TargetCheck } from './report.ts';
import type { ScenarioId, ScenarioResult } from './scenario.ts';

/**
 * The targets (a 2-core machine, load generator included), read from this run's
 * measurements. Each says where it was read; a target whose step did not run is `not measured`.
 */
export function checkTargets(scenarios: ScenarioResult[], profile: Profile): TargetCheck[] {
  const find = (
    id: ScenarioId,
    corpus: string | undefined,
    target: Target,
    clients: number,
    variant?: string,
  ) =>
    scenarios
      .find((s) => s.id === id && (corpus === undefined || s.corpus === corpus))
      ?.measurements.find(
        // A step in which nothing answered measured nothing.
        (m) => m.target === target && m.clients === clients && m.variant === variant && m.latencySamples > 0,
      );
  const firstCorpus = scenarios.find((s) => s.id === 'search-cached')?.corpus;
  const checks: TargetCheck[] = [];
  const add = (
    target: string,
    measuredAt: string,
    value: number | undefined,
    unit: string,
    met: (value: number) => boolean,
    steps: (Measurement | undefined)[] = [],
  ) =>
    checks.push({
      target,
      measuredAt,
      value: value ?? null,
      unit,
      // Failed calls fail the target whatever the figure of the ones that answered.
      met: value === undefined ? null : !steps.some((m) => m !== undefined && hasErrors(m)) && met(value),
    });

  const cached = find('search-cached', firstCorpus, 'hopper', 50);
  const plain = find('search-cached', firstCorpus, 'plain-sdk', 50);
  const where = `search-cached, ${firstCorpus ?? '?'} corpus, 50 clients`;
  add('cached search p99 < 20 ms', where, cached?.latencyMs.p99, 'ms', (v) => v < 20, [cached]);
  add(
    'cached search ≥ 5x the plain-SDK peer’s throughput',
    where,
    throughputRatio(cached, plain),
    'x',
    (v) => v >= 5,
    [cached, plain],
  );
  const fixed = find('search-cached', firstCorpus, 'plain-sdk-fixed', 50);
  const ceiling = find('search-cached', firstCorpus, 'ceiling', 50);
  add(
    'cached search ≥ 10x the no-I/O plain-SDK peer’s throughput',
    where,
    throughputRatio(cached, fixed),
    'x',
    (v) => v >= 10,
    [cached, fixed],
  );
  add(
    'cached search ≥ 0.5x the bare-HTTP ceiling’s throughput',
    where,
    throughputRatio(cached, ceiling),
    'x',
    (v) => v >= 0.5,
    [cached, ceiling],
  );
  for (const clients of [1, profile.clients]) {
    const uncached = find('search-uncached', '100k', 'hopper', clients);
    add(
      'uncached search over 100k chunks p99 < 50 ms',
      `search-uncached, 100k corpus, ${clients} client${clients === 1 ? '' : 's'}` +
        (uncached ? '' : notMeasured(scenarios, clients)),
      uncached?.latencyMs.p99,
      'ms',
      (v) => v < 50,
      [uncached],
    );
  }
  const ack: Measurement | undefined = find('ingest-ack', undefined, 'hopper', profile.clients, '1 KB');
  add(
    '`wait: false` acknowledge p99 < 15 ms',
    `ingest-ack, 1 KB documents, ${profile.clients} clients`,
    ack?.latencyMs.p99,
    'ms',
    (v) => v < 15,
    [ack],
  );
  return checks;
}

/** Says what the run has instead, when the 100k corpus was not part of it. */
function notMeasured(scenarios: ScenarioResult[], clients: number): string {
  const smaller = scenarios
    .find((s) => s.id === 'search-uncached')
    ?.measurements.find((m) => m.target === 'hopper' && m.clients === clients);
  if (!smaller) return '';
  const corpus = scenarios.find((s) => s.id === 'search-uncached')?.corpus;
  return ` (not in this profile; ${corpus} corpus: p99 ${smaller.latencyMs.p99} ms)`;
}

const hasErrors = (m: Measurement) => m.errors.http + m.errors.rpc + m.errors.tool > 0;

/** How many times `peer`'s calls/s `server` served, when both were measured. */
function throughputRatio(
  server: { throughput: number } | undefined,
  peer: { throughput: number } | undefined,
): number | undefined {
  return server && peer && peer.throughput > 0 ? round(server.throughput / peer.throughput) : undefined;
}
