import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

/**
 * A smoke of the soak (`npm run soak`): that it starts its stack, sends every operation of its mix,
 * samples both processes and writes its report, and that the run had no failed call, no error
 * logged and no crash. Fifteen seconds: the soak's measurements (the traffic rate it reached, memory
 * trends) need its own twenty minutes, and are not judged here.
 */

const SOAK = fileURLToPath(new URL('../../apps/bench/src/soak/soak.ts', import.meta.url));
const MINUTES = 0.25;
/** The soak's checks that are measurements, which a short run on a busy machine cannot judge. */
const MEASUREMENTS = new Set(['traffic at the asked rate']);

interface Report {
  passed: boolean;
  totals: { calls: number; errors: number };
  operations: Record<string, { calls: number; errors: number }>;
  processes: Record<
    'gateway' | 'worker',
    {
      rssMb: { slopePerMinute: number };
      outsideCachesMb: { slopePerMinute: number };
      growthLimitMbPerMinute: number;
    }
  >;
  checks: { name: string; passed: boolean; detail: string }[];
  samples: Record<'gateway' | 'worker', unknown[]>;
}

let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'hopper-soak-test-'));
});

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

it(
  'runs mixed traffic against a gateway and a worker and writes its report',
  { timeout: 120_000 },
  async () => {
    const child = spawn(
      process.execPath,
      [
        SOAK,
        '--minutes',
        String(MINUTES),
        '--sample-seconds',
        '2.5',
        '--out',
        out,
        '--redis-url',
        inject('redisUrl'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    const report = JSON.parse(await readFile(join(out, 'soak.json'), 'utf8')) as Report;
    expect(await readFile(join(out, 'soak.md'), 'utf8')).toContain('# Soak');
    // Every operation of the mix ran, and both processes were sampled along the way.
    expect(Object.keys(report.operations).length).toBeGreaterThan(0);
    for (const [name, op] of Object.entries(report.operations)) expect(op.calls, name).toBeGreaterThan(0);
    expect(report.samples.gateway.length).toBeGreaterThanOrEqual(4);
    expect(report.samples.worker.length).toBeGreaterThanOrEqual(4);
    // No failed call, no error logged, both processes alive, memory within the pods' limits.
    expect(
      report.checks.filter((c) => !c.passed && !MEASUREMENTS.has(c.name)),
      output.slice(-3_000),
    ).toEqual([]);
    // The exit status says what the report says (1: a check failed; anything else: the soak broke).
    expect(code, output.slice(-3_000)).toBe(report.passed ? 0 : 1);
  },
);
