import type { CorpusInfo } from './corpus/corpus.ts';
import type { Measurement } from './measure.ts';
import type { ScenarioResult, UserIngestResult } from './scenario.ts';
import { round, writeReportFiles, type LatencySummary } from '@hopper/harness';

/** A stated target and what this run measured for it. */
export interface TargetCheck {
  target: string;
  /** Where it was read: scenario, corpus, clients. */
  measuredAt: string;
  value: number | null;
  unit: string;
  /** `null` when this run did not measure it (e.g. no 100k corpus in --quick). */
  met: boolean | null;
}

export interface BenchReport {
  command: string;
  profile: string;
  startedAt: string;
  durationS: number;
  machine: {
    cores: number;
    cpu: string;
    memoryGiB: number;
    node: string;
    /** 1-minute load average at the start and the end: other work on the machine skews everything. */
    loadAverage: { start: number; end: number };
  };
  /** `own stack` (started by the bench) or the URL of a deployment. */
  hopper: string;
  loadGenerator: string;
  corpora: (CorpusInfo & { label: string; reused: boolean })[];
  targets: TargetCheck[];
  scenarios: ScenarioResult[];
  notes: string[];
}

/** Writes bench.json and bench.md into `directory`; returns their paths. */
export async function writeReport(directory: string, report: BenchReport): Promise<string[]> {
  return writeReportFiles(directory, 'bench', markdown(report), report);
}

export function markdown(report: BenchReport): string {
  const { machine } = report;
  const lines = [
    '# Hopper benchmark',
    '',
    `\`${report.command}\` (${report.profile} profile), ${report.startedAt}, ${report.durationS} s.`,
    '',
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}; load average ` +
      `${machine.loadAverage.start} at the start, ${machine.loadAverage.end} at the end` +
      (Math.max(machine.loadAverage.start, machine.loadAverage.end) > machine.cores
        ? ` — **the machine was busy with other work** (load above its ${machine.cores} cores): every figure is pessimistic and noisy.`
        : '.'),
    `Hopper: ${report.hopper}. Load generator: ${report.loadGenerator}`,
    '',
    `Corpora: ${report.corpora
      .map(
        (c) =>
          `${c.label}: ${c.chunks.toLocaleString('en-US')} chunks in ${c.documents} documents` +
          `${c.sizeMb === undefined ? ' (ingested through MCP)' : `, ${c.sizeMb} MB`}, ` +
          `${c.reused ? 'reused from an earlier run' : `loaded in ${c.buildSeconds} s`}`,
      )
      .join('; ')}${report.corpora.length === 0 ? 'none (no scenario of this run searches one)' : ''}.`,
    '',
    '## Targets',
    '',
    '| target | measured at | value | met |',
    '| --- | --- | ---: | --- |',
    ...report.targets.map(
      (t) =>
        `| ${t.target} | ${t.measuredAt} | ${t.value === null ? 'not measured' : `${t.value} ${t.unit}`} | ${
          t.met === null ? '—' : t.met ? 'yes' : '**no**'
        } |`,
    ),
    '',
    'Ratios below are Hopper / peer at the same clients: throughput above 1 and p99 below 1 favour Hopper.',
    '',
  ];
  for (const scenario of report.scenarios) lines.push(...scenarioSection(scenario));
  lines.push('## Notes', '', ...report.notes.map((note) => `- ${note}`), '');
  return lines.join('\n');
}

function scenarioSection(scenario: ScenarioResult): string[] {
  const lines = [
    `## ${scenario.title}${scenario.corpus ? ` (${scenario.corpus} corpus)` : ''}`,
    '',
    scenario.description,
    '',
  ];
  if (scenario.skipped) return [...lines, `Not run: ${scenario.skipped}.`, ''];
  if (scenario.measurements.length > 0) lines.push(...measurementTable(scenario.measurements), '');
  const cut = scenario.measurements.filter((m) => m.stopped !== undefined);
  if (cut.length > 0) {
    lines.push(...cut.map((m) => `- ${stepName(m)}: cut short, ${m.stopped}.`), '');
  }
  if (scenario.notes && scenario.notes.length > 0) {
    lines.push(...scenario.notes.map((note) => `- ${note}`), '');
  }
  const settled = scenario.measurements.filter((m) => m.settleMs >= SETTLE_NOTE_MS);
  if (settled.length > 0) {
    lines.push(
      'Waited for the server to finish earlier work before the step:',
      '',
      ...settled.map((m) => `- ${stepName(m)}: ${round(m.settleMs / 1000, 1)} s`),
      '',
    );
  }
  const warned = scenario.measurements.filter((m) => Object.keys(m.warnings).length > 0);
  if (warned.length > 0) {
    lines.push(
      'Logged by the server during the step (warn and above):',
      '',
      ...warned.map(
        (m) =>
          `- ${stepName(m)}: ` +
          Object.entries(m.warnings)
            .map(([message, count]) => `${count} × “${message}”`)
            .join(', '),
      ),
      '',
    );
  }
  const failing = scenario.measurements.filter((m) => m.errors.sample !== undefined);
  if (failing.length > 0) {
    lines.push(
      'Errors (first of each step):',
      '',
      ...failing.map((m) => `- ${stepName(m)}: \`${m.errors.sample}\``),
      '',
    );
  }
  if (scenario.ratios.length > 0) {
    lines.push(
      '| clients | variant | versus | throughput ratio | p99 ratio |',
      '| ---: | --- | --- | ---: | ---: |',
      ...scenario.ratios.map(
        (r) => `| ${r.clients} | ${r.variant ?? ''} | ${r.versus} | ${r.throughput}x | ${r.p99}x |`,
      ),
      '',
    );
  }
  const t = scenario.throughput;
  if (t) {
    lines.push(
      '| workers | documents | chunks | failed | drain (s) | chunks/s | chunks/s per worker | job time p50 / p95 / max (ms) | worker CPU % | worker RSS max (MB) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${t.workers} | ${t.documents} | ${t.chunks} | ${t.failed} | ${t.drainS} | ${t.chunksPerS} | ${t.chunksPerSPerWorker} | ` +
        `${t.jobMs.p50} / ${t.jobMs.p95} / ${t.jobMs.max} | ${sum(Object.values(t.usage).map((u) => u.cpuPercent))} | ` +
        `${Math.max(0, ...Object.values(t.usage).map((u) => u.rssMaxMb))} |`,
      '',
    );
  }
  const runs = scenario.userIngest;
  if (runs) {
    const sent = (u: UserIngestResult) =>
      u.label ?? (u.perCall === 1 ? 'one per call' : `${u.perCall} per call`);
    lines.push(
      '| sent | documents | failed | time (s) | documents/s | chunks | chunks/s | 429s waited out |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...runs.map(
        (u) =>
          `| ${sent(u)} | ${u.documents} | ${u.failed} | ${u.ingestS} | ${u.docsPerS} | ${u.chunks} | ${u.chunksPerS} | ${u.busy} |`,
      ),
      '',
      '| sent | reads | tool | calls | errors | p50 | p95 | p99 | max (ms) |',
      '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      // A run without readers (a preload) has nothing to show here.
      ...runs
        .filter((u) => u.readers !== 0)
        .flatMap((u) =>
          (['during', 'after', 'rest'] as const).flatMap((phase) =>
            Object.entries(u[phase] ?? {}).map(
              ([tool, f]) =>
                `| ${sent(u)} | ${phase === 'rest' ? 'at rest' : `${phase} ingestion`} | ${tool} | ${f.calls} | ${f.errors} | ${latencyCells(f.latencyMs)} |`,
            ),
          ),
        ),
      '',
    );
  }
  const p = scenario.progress;
  if (p) {
    lines.push(
      `${p.jobs} jobs of ~${p.chunksPerJob} chunks.`,
      '',
      '| path | events | p50 | p95 | p99 | max (ms) |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      `| worker → MCP client (notifications/progress) | ${p.mcp.events} | ${latencyCells(p.mcp.latencyMs)} |`,
      `| worker → Socket.IO client | ${p.socketIo.events} | ${latencyCells(p.socketIo.latencyMs)} |`,
      '',
    );
  }
  return lines;
}

function measurementTable(measurements: Measurement[]): string[] {
  return [
    '| target | clients | variant | calls/s | p50 | p95 | p99 | max (ms) | errors | cache hits | answer (KB) | client CPU/call (µs) | server CPU % | server RSS (MB) | worker CPU % | redis CPU % | redis cmds/call | bench CPU % |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...measurements.map((m) => {
      const server = m.usage.gateway ?? m.usage.peer;
      const errors = m.errors.http + m.errors.rpc + m.errors.tool;
      // Calls cut off long after the window make the tail figures lower bounds.
      const tail = m.unfinished > 0 ? ` (≥, ${m.unfinished} cut off)` : '';
      return (
        `| ${m.target} | ${m.clients} | ${m.variant ?? ''} | ${m.throughput} | ${latencyCells(m.latencyMs)}${tail} | ` +
        `${errors === 0 ? 0 : `**${errors}**`} | ${cacheCell(m)} | ${m.answerBytes > 0 ? round(m.answerBytes / 1024, 1) : ''} | ${m.clientCpuUsPerRequest} | ${cell(server?.cpuPercent)} | ` +
        `${cell(server?.rssMaxMb)} | ${cell(m.usage.worker?.cpuPercent)} | ${cell(m.usage.redis?.cpuPercent)} | ${cell(m.redisCommandsPerCall)} | ${cell(m.usage.bench?.cpuPercent)} |`
      );
    }),
  ];
}

/** Cache hits (of them from Redis); the ceiling echoes a cached answer and has no cache. */
const cacheCell = (m: Measurement) =>
  m.target === 'ceiling'
    ? ''
    : m.cacheHitsL2 > 0
      ? `${m.cacheHits} (L2 ${m.cacheHitsL2})`
      : String(m.cacheHits);
/** Settling shorter than this is the idle check itself (300 ms per look). */
const SETTLE_NOTE_MS = 2_000;
const stepName = (m: Measurement) => `${m.target}, ${m.clients} clients${m.variant ? `, ${m.variant}` : ''}`;
const latencyCells = (l: LatencySummary) => `${l.p50} | ${l.p95} | ${l.p99} | ${l.max}`;
const cell = (value: number | undefined) => (value === undefined ? '' : String(value));
const sum = (values: number[]) => Math.round(values.reduce((a, b) => a + b, 0) * 10) / 10;
