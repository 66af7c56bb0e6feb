import { percentile, round } from '@hopper/harness';
import { operations, type Operation, type OperationStats, type TrafficError } from './traffic.ts';
import {
  MIN_TREND_WINDOW_MINUTES,
  podMemoryLimitMb,
  rssSlopeLimit,
  series,
  trend,
  outsideCachesSeries,
  type Point,
  type Sample,
  type Trend,
} from './trend.ts';

export type ProcessName = 'gateway' | 'worker';

export interface ProcessFigures {
  rssMb: Trend;
  heapUsedMb: Trend;
  externalMb: Trend;
  /** LanceDB's caches: bounded by HOPPER_STORE_*_CACHE_MB, so RSS growth beyond them is something else. */
  storeCacheMb: Trend;
  /** RSS less the store caches (see outsideCachesSeries): the trend the soak judges. */
  outsideCachesMb: Trend;
  handles: Trend;
  cpuSeconds: number;
  /** The largest slope not called growth, for this run's window (see rssSlopeLimit). */
  growthLimitMbPerMinute: number;
  /** The RSS slope spread over the calls of a minute: what each call would leave behind. */
  rssBytesPerCall: number;
  alive: boolean;
  errorLines: string[];
}

export interface SoakReport {
  startedAt: string;
  minutes: number;
  sampleSeconds: number;
  concurrency: number;
  /** Calls a second the clients were asked for (0: as fast as they go). */
  rate: number;
  /** The allocator of the gateway and worker: glibc, as in the images, or jemalloc to compare. */
  allocator: string;
  /** The first half of the run: trends are fitted over the second half only. */
  warmupMinutes: number;
  machine: { cpus: number; node: string; loadAverage: number };
  operations: Record<
    Operation,
    { calls: number; errors: number; perSecond: number; p50Ms: number; p99Ms: number }
  >;
  totals: { calls: number; errors: number; perSecond: number };
  processes: Record<ProcessName, ProcessFigures>;
  redisUsedMemoryMb: Trend;
  errors: TrafficError[];
  checks: { name: string; passed: boolean; detail: string }[];
  passed: boolean;
  samples: Record<ProcessName, Sample[]>;
}

export interface SoakRun {
  startedAt: Date;
  minutes: number;
  sampleSeconds: number;
  concurrency: number;
  rate: number;
  allocator: string;
  machine: SoakReport['machine'];
  stats: Record<Operation, OperationStats>;
  errors: TrafficError[];
  samples: Record<ProcessName, Sample[]>;
  /** Redis `used_memory` in bytes: the queue and the cache must not pile up either. */
  redisMemory: Point[];
  alive: Record<ProcessName, boolean>;
  errorLines: Record<ProcessName, string[]>;
}

const MB = 1 / (1024 * 1024);
/** The share of the asked rate a run must reach. */
const RATE_REACHED = 0.9;

function rounded(t: Trend, digits = 1): Trend {
  return {
    first: round(t.first, digits),
    last: round(t.last, digits),
    max: round(t.max, digits),
    slopePerMinute: round(t.slopePerMinute, 3),
  };
}

export function buildReport(run: SoakRun): SoakReport {
  const seconds = run.minutes * 60;
  const warmupMinutes = run.minutes / 2;
  const window = run.minutes - warmupMinutes;
  const ops = Object.fromEntries(
    operations.map((op) => {
      const s = run.stats[op];
      const durations = [...s.durations].sort((a, b) => a - b);
      return [
        op,
        {
          calls: s.calls,
          errors: s.errors,
          perSecond: round(s.calls / seconds, 1),
          p50Ms: round(percentile(durations, 50), 1),
          p99Ms: round(percentile(durations, 99), 1),
        },
      ];
    }),
  ) as SoakReport['operations'];
  const calls = operations.reduce((sum, op) => sum + ops[op].calls, 0);
  const errors = operations.reduce((sum, op) => sum + ops[op].errors, 0);
  const callsPerMinute = calls / run.minutes;

  const figures = (name: ProcessName): ProcessFigures => {
    const samples = run.samples[name];
    const rssMb = trend(series(samples, 'rssBytes', MB), warmupMinutes);
    const cpu = trend(series(samples, 'cpuSeconds'), warmupMinutes);
    return {
      rssMb: rounded(rssMb),
      heapUsedMb: rounded(trend(series(samples, 'heapUsedBytes', MB), warmupMinutes)),
      externalMb: rounded(trend(series(samples, 'externalBytes', MB), warmupMinutes)),
      storeCacheMb: rounded(trend(series(samples, 'storeCacheBytes', MB), warmupMinutes)),
      outsideCachesMb: rounded(trend(outsideCachesSeries(samples, MB), warmupMinutes)),
      handles: rounded(trend(series(samples, 'handles'), warmupMinutes), 0),
      cpuSeconds: round(cpu.last - cpu.first, 1),
      growthLimitMbPerMinute: round(rssSlopeLimit(window), 2),
      rssBytesPerCall: Math.round(rssMb.slopePerMinute / MB / Math.max(callsPerMinute, 1)),
      alive: run.alive[name],
      errorLines: run.errorLines[name].slice(0, 10),
    };
  };
  const processes = { gateway: figures('gateway'), worker: figures('worker') };

  const reached = calls / seconds;
  const checks = [
    { name: 'no failed calls', passed: errors === 0, detail: `${errors} of ${calls} calls failed` },
    ...(run.rate > 0
      ? [
          {
            // Below the asked rate the stack did not keep up, and the trend is not comparable.
            name: 'traffic at the asked rate',
            passed: reached >= RATE_REACHED * run.rate,
            detail: `${round(reached, 1)} of ${run.rate} calls/s`,
          },
        ]
      : []),
    ...(['gateway', 'worker'] as const).flatMap((name) => {
      const p = processes[name];
      return [
        { name: `${name} alive`, passed: p.alive, detail: p.alive ? 'running at the end' : 'exited' },
        {
          name: `${name} logged no error`,
          passed: run.errorLines[name].length === 0,
          detail: `${run.errorLines[name].length} error lines`,
        },
        {
          name: `${name} RSS within its pod's limit`,
          passed: p.rssMb.max < podMemoryLimitMb[name],
          detail: `at most ${p.rssMb.max} MB (limit ${podMemoryLimitMb[name]} MB)`,
        },
        // RSS also climbs while LanceDB's caches fill towards their configured bound, which is not
        // a leak (the pods' limits allow for full caches), so the judged trend is the rest of RSS.
        window >= MIN_TREND_WINDOW_MINUTES
          ? {
              name: `${name} memory outside its bounded caches does not grow`,
              passed: p.outsideCachesMb.slopePerMinute < p.growthLimitMbPerMinute,
              detail:
                `${p.outsideCachesMb.slopePerMinute} MB/min after warm-up (limit ${p.growthLimitMbPerMinute}); ` +
                `RSS ${p.rssMb.slopePerMinute} MB/min, of it LanceDB's caches ${p.storeCacheMb.slopePerMinute}`,
            }
          : {
              name: `${name} memory outside its bounded caches does not grow`,
              passed: true,
              detail: `not judged: a ${window} min window is still warm-up (${p.outsideCachesMb.slopePerMinute} MB/min)`,
            },
      ];
    }),
  ];

  return {
    startedAt: run.startedAt.toISOString(),
    minutes: run.minutes,
    sampleSeconds: run.sampleSeconds,
    concurrency: run.concurrency,
    rate: run.rate,
    allocator: run.allocator,
    warmupMinutes,
    machine: run.machine,
    operations: ops,
    totals: { calls, errors, perSecond: round(calls / seconds, 1) },
    processes,
    redisUsedMemoryMb: rounded(
      trend(
        run.redisMemory.map((p) => ({ minute: p.minute, value: p.value * MB })),
        warmupMinutes,
      ),
    ),
    errors: run.errors,
    checks,
    passed: checks.every((c) => c.passed),
    samples: run.samples,
  };
}

export function renderMarkdown(report: SoakReport): string {
  const lines: string[] = [];
  const row = (cells: (string | number)[]) => lines.push(`| ${cells.join(' | ')} |`);
  lines.push(
    '# Soak',
    '',
    `${report.startedAt}: ${report.minutes} min of mixed MCP traffic from ${report.concurrency} clients ` +
      (report.rate > 0 ? `at ${report.rate} calls/s ` : 'as fast as they go ') +
      `against one gateway and one worker on ${report.allocator}; samples every ${report.sampleSeconds} s from each process's ` +
      `/metrics. Trends are least-squares slopes over the second half (the first ${report.warmupMinutes} min ` +
      `are warm-up). Machine: ${report.machine.cpus} CPUs, Node ${report.machine.node}, load ` +
      `${report.machine.loadAverage} at the end.`,
    '',
    `**${report.passed ? 'Passed' : 'FAILED'}**: ${report.totals.calls} calls (${report.totals.perSecond}/s` +
      (report.rate > 0 ? ` of ${report.rate}/s asked` : '') +
      `), ${report.totals.errors} failed.`,
    '',
    '## Checks',
    '',
  );
  row(['check', 'result', 'detail']);
  row(['---', '---', '---']);
  for (const c of report.checks) row([c.name, c.passed ? 'pass' : 'FAIL', c.detail]);

  lines.push('', '## Processes', '');
  row([
    '',
    'RSS MB (start → end, max)',
    'RSS slope MB/min',
    'per call',
    'heap used MB (start → end)',
    'heap slope MB/min',
    'external MB (start → end)',
    'external slope MB/min',
    'store cache MB (start → end)',
    'RSS outside caches MB (start → end)',
    'its slope MB/min',
    'handles (start → end, max)',
    'CPU s',
  ]);
  row(['---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---']);
  for (const name of ['gateway', 'worker'] as const) {
    const p = report.processes[name];
    row([
      name,
      `${p.rssMb.first} → ${p.rssMb.last} (${p.rssMb.max})`,
      p.rssMb.slopePerMinute,
      `${p.rssBytesPerCall} B`,
      `${p.heapUsedMb.first} → ${p.heapUsedMb.last}`,
      p.heapUsedMb.slopePerMinute,
      `${p.externalMb.first} → ${p.externalMb.last}`,
      p.externalMb.slopePerMinute,
      `${p.storeCacheMb.first} → ${p.storeCacheMb.last}`,
      `${p.outsideCachesMb.first} → ${p.outsideCachesMb.last}`,
      `${p.outsideCachesMb.slopePerMinute} (limit ${p.growthLimitMbPerMinute})`,
      `${p.handles.first} → ${p.handles.last} (${p.handles.max})`,
      p.cpuSeconds,
    ]);
  }
  const redis = report.redisUsedMemoryMb;
  lines.push(
    '',
    `Redis used memory: ${redis.first} → ${redis.last} MB (slope ${redis.slopePerMinute} MB/min).`,
    '',
    "RSS outside caches is RSS less what LanceDB's caches hold, whose bound the pods' limits allow for.",
  );

  lines.push('', '## Traffic', '');
  row(['operation', 'calls', 'per s', 'errors', 'p50 ms', 'p99 ms']);
  row(['---', '---:', '---:', '---:', '---:', '---:']);
  for (const op of operations) {
    const o = report.operations[op];
    row([op, o.calls, o.perSecond, o.errors, o.p50Ms, o.p99Ms]);
  }
  lines.push('', 'Latencies are informational: the load generator shares the machine with the stack.');

  lines.push('', '## Samples', '');
  row([
    'minute',
    'gateway RSS MB',
    'gateway heap MB',
    'gateway store cache MB',
    'gateway outside caches MB',
    'gateway handles',
    'worker RSS MB',
    'worker heap MB',
    'worker store cache MB',
    'worker outside caches MB',
    'worker handles',
  ]);
  row(['---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']);
  const { gateway, worker } = report.samples;
  const outside = { gateway: outsideCachesSeries(gateway, MB), worker: outsideCachesSeries(worker, MB) };
  const every = Math.max(1, Math.round(gateway.length / 20));
  gateway.forEach((g, i) => {
    const w = worker[i];
    if ((i % every !== 0 && i !== gateway.length - 1) || !w) return;
    row([
      round(g.minute, 1),
      round(g.values.rssBytes * MB, 1),
      round(g.values.heapUsedBytes * MB, 1),
      round(g.values.storeCacheBytes * MB, 1),
      round(outside.gateway[i]!.value, 1),
      g.values.handles,
      round(w.values.rssBytes * MB, 1),
      round(w.values.heapUsedBytes * MB, 1),
      round(w.values.storeCacheBytes * MB, 1),
      round(outside.worker[i]!.value, 1),
      w.values.handles,
    ]);
  });

  if (report.errors.length > 0) {
    lines.push('', '## Failed calls (first 50)', '');
    for (const e of report.errors) lines.push(`- ${e.atSeconds} s, ${e.operation}: ${e.message}`);
  }
  for (const name of ['gateway', 'worker'] as const) {
    const logged = report.processes[name].errorLines;
    if (logged.length > 0)
      lines.push('', `## ${name} error log (first 10)`, '', ...logged.map((l) => `    ${l}`));
  }
  return `${lines.join('\n')}\n`;
}
