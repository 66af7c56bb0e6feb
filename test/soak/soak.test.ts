import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

/**
 * The soak (`npm run soak`) at CI size: 75 s of mixed traffic against one gateway and one worker.
 * A run this short catches failed calls, logged errors, a crash, and a leak only if it crosses the
 * pod's memory limit: its window is still warm-up, so growth is not judged (MIN_TREND_WINDOW_MINUTES).
 * `npm run soak` runs twenty minutes for the trend.
 */

const SOAK = fileURLToPath(new URL('../../apps/bench/src/soak.ts', import.meta.url));
const MINUTES = 1.25;

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
  'holds steady under mixed traffic: no failed call, no error logged, no runaway memory',
  { timeout: 180_000 },
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
    const { gateway, worker } = report.processes;
    console.log(
      `soak (${MINUTES} min): ${report.totals.calls} calls, ${report.totals.errors} failed; RSS slope gateway ` +
        `${gateway.rssMb.slopePerMinute} MB/min, worker ${worker.rssMb.slopePerMinute} MB/min; outside the ` +
        `bounded caches ${gateway.outsideCachesMb.slopePerMinute} and ${worker.outsideCachesMb.slopePerMinute} ` +
        `(limit ${gateway.growthLimitMbPerMinute})`,
    );
    // Every operation of the mix ran, and the processes were sampled all along.
    for (const [name, op] of Object.entries(report.operations)) expect(op.calls, name).toBeGreaterThan(0);
    expect(report.samples.gateway.length).toBeGreaterThanOrEqual(20);
    expect(
      report.checks.filter((c) => !c.passed),
      output.slice(-3_000),
    ).toEqual([]);
    expect(code).toBe(0);
  },
);
