import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport } from './report.ts';
import type { ScenarioId } from './scenario.ts';

/*
 * A smoke of `npm run bench` as a user runs it: a real stack, the real peers, real MCP traffic, on
 * the tiny profile and two scenarios. That the program runs and writes both reports, that Hopper and
 * its peers answer, and that reads during ingestion do not fail. Nothing here depends on how fast
 * anything is; the bench's figures are the bench's (`npm run bench -- --quick`), not the tests'.
 */

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
/**
 * What a new user sees (user-ingest), the same on a preloaded store (user-ingest-100k, ~10 s on the
 * tiny profile), and the search sweep against every peer (search-cached).
 */
const SCENARIOS: ScenarioId[] = ['user-ingest', 'user-ingest-100k', 'search-cached'];

let out: string;
let report: BenchReport;
let markdown: string;
/** The bench's own log: it names every failed read's answer, which the figures only count. */
let benchLog: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'hopper-bench-test-'));
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [MAIN, '--tiny', '--only', SCENARIOS.join(','), '--out', out],
    {
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  benchLog = `${stdout}\n${stderr}`;
  report = JSON.parse(await readFile(join(out, 'bench.json'), 'utf8')) as BenchReport;
  markdown = await readFile(join(out, 'bench.md'), 'utf8');
}, 300_000);

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe('npm run bench -- --tiny --only user-ingest,user-ingest-100k,search-cached', () => {
  it('runs the scenarios asked for, none skipped, on its own stack', () => {
    expect(report.profile).toBe('tiny');
    expect(report.scenarios.map((s) => s.id).sort()).toEqual([...SCENARIOS].sort());
    expect(report.scenarios.filter((s) => s.skipped)).toEqual([]);
    expect(report.corpora).toEqual([expect.objectContaining({ chunks: 500, label: '500' })]);
  });

  it('ingests documents one call each, then in batches, into fresh stacks and times the reads during and after', () => {
    const runs = report.scenarios.find((s) => s.id === 'user-ingest')?.userIngest ?? [];
    expect(runs.map((r) => r.perCall)).toEqual([1, 10]);
    for (const result of runs) {
      expect(result).toMatchObject({ documents: 20, failed: 0 });
      expect(result.chunks).toBeGreaterThanOrEqual(20);
      for (const phase of ['during', 'after'] as const) {
        for (const [tool, figures] of Object.entries(result[phase])) {
          const answers = benchLog.split('\n').filter((line) => line.includes(`${tool} error:`));
          expect(figures.errors, `${result.perCall} per call, ${phase} ${tool}:\n${answers.join('\n')}`).toBe(
            0,
          );
        }
      }
      // Reads run after the last job too, whatever happened during ingestion.
      expect(result.after.search.calls).toBeGreaterThan(0);
      expect(result.after.get_document.calls).toBeGreaterThan(0);
    }
    expect(markdown).toContain('ingestion as users do it');
    expect(markdown).toContain('| 10 per call | 20 |');
  });

  it('preloads a store as REST batches without readers, then ingests one per call and times the reads', () => {
    const scenario = report.scenarios.find((s) => s.id === 'user-ingest-100k');
    const [preload, run] = scenario?.userIngest ?? [];
    // Two copies of 100 abstracts in batches of 100, then 100 more of a third copy one per call.
    expect(preload).toMatchObject({ documents: 200, perCall: 100, readers: 0, failed: 0 });
    expect(run).toMatchObject({ documents: 100, perCall: 1, readers: 10, failed: 0 });
    expect(preload?.chunks).toBeGreaterThanOrEqual(200);
    for (const phase of ['during', 'after'] as const) {
      for (const [tool, figures] of Object.entries(run?.[phase] ?? {})) {
        expect(figures.errors, `${phase} ${tool}`).toBe(0);
      }
    }
    expect(run?.after.search.calls).toBeGreaterThan(0);
    expect(markdown).toContain('| preload, 100 per call | 200 |');
    // The preload had no readers: no read rows of its own.
    expect(markdown).not.toMatch(/\| preload, 100 per call \| (during|after) ingestion/);
  });

  it('measures Hopper and the peers in the search sweep, with ratios for each', () => {
    // The no-I/O plain-SDK peer, and the gateway with the fast path off, where Hopper answers from
    // its cache.
    const peers = ['hopper (SDK path)', 'plain-sdk', 'plain-sdk-fixed', 'ceiling'];
    const scenario = report.scenarios.find((s) => s.id === 'search-cached');
    const targets = new Set(scenario?.measurements.map((m) => m.target));
    expect(targets).toEqual(new Set(['hopper', ...peers]));
    const clients = [...new Set(scenario?.measurements.map((m) => m.clients))];
    expect(scenario?.ratios).toHaveLength(clients.length * peers.length);
  });

  it('gives every step coherent figures and no failed calls', () => {
    const measurements = report.scenarios.flatMap((s) =>
      s.measurements.map((m) => ({ scenario: s.id, ...m })),
    );
    expect(measurements.length).toBeGreaterThan(5);
    for (const m of measurements) {
      const { p50, p95, p99, max } = m.latencyMs;
      expect(m.clients, m.scenario).toBeGreaterThan(0);
      expect(m.errors, `${m.scenario} ${m.target}`).toEqual({ http: 0, rpc: 0, tool: 0 });
      // Each client's last call ends after the warm-up, so every step has something to report.
      expect(m.latencySamples + m.unfinished, m.scenario).toBeGreaterThanOrEqual(m.clients);
      expect(p50 <= p95 && p95 <= p99 && p99 <= max, `${m.scenario}: ${JSON.stringify(m.latencyMs)}`).toBe(
        true,
      );
      expect(m.throughput).toBeGreaterThanOrEqual(0);
      if (m.target === 'hopper')
        expect(Object.keys(m.usage)).toEqual(expect.arrayContaining(['gateway', 'worker']));
    }
  });

  it('has Hopper answer the cached scenario from its cache', () => {
    const hopper = report.scenarios
      .find((s) => s.id === 'search-cached')
      ?.measurements.filter((m) => m.target === 'hopper');
    expect(hopper?.reduce((sum, m) => sum + m.cacheHits, 0)).toBeGreaterThan(0);
  });

  it('writes the Markdown report with the targets and a section per scenario', () => {
    expect(markdown).toContain('## Targets');
    for (const scenario of report.scenarios) expect(markdown).toContain(`## ${scenario.title}`);
    expect(report.targets.map((t) => t.target)).toContain('cached search p99 < 20 ms');
  });
});
