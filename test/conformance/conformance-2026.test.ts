import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startNode, type NodeProcess } from '@hopper/harness';
import { TestStack } from '../support/stack.ts';

/**
 * The official MCP conformance suite at the 2026-07-28 revision (`--requirements 2026-07-28`: the
 * scored scenarios, plus the tasks extension and pending ones, run unscored) against a real gateway
 * and worker. The checks Hopper fails on purpose are listed, with reasons, in
 * expected-failures-2026-07-28.yml; the suite exits non-zero on a failure or warning not listed
 * there and on a listed check that passes. The suite is the devDependency `conformance-2026`, an
 * npm alias of @modelcontextprotocol/conformance@0.2.0-alpha.12 (0.1.16 keeps the package's own
 * name for the 2025-11-25 run in conformance.test.ts).
 *
 * The suite also runs against the fixture server (fixture-server.ts): the suite's reference
 * fixtures (`test_simple_text`, `test://static-text`, the prompts, completion, the input-required
 * tools, …) served by Hopper's own HTTP layer, node adapter and MCP endpoint, so the checks that
 * call fixtures exercise Hopper's protocol code too. Its failures are listed, with reasons, in
 * expected-failures-2026-07-28-fixtures.yml, checked both ways alike.
 */

const BASELINE = fileURLToPath(new URL('./expected-failures-2026-07-28.yml', import.meta.url));
const FIXTURES_BASELINE = fileURLToPath(
  new URL('./expected-failures-2026-07-28-fixtures.yml', import.meta.url),
);
const FIXTURE_SERVER = fileURLToPath(new URL('./fixture-server.ts', import.meta.url));
const SUITE = join(
  dirname(createRequire(import.meta.url).resolve('conformance-2026/package.json')),
  'dist/index.js',
);

let stack: TestStack;
let fixtures: NodeProcess;
let fixturesUrl: string;
let workDir: string;

beforeAll(async () => {
  [stack, fixtures] = await Promise.all([
    TestStack.start({ redisUrl: inject('redisUrl'), workers: 1 }),
    startNode('conformance-fixtures', FIXTURE_SERVER, {
      env: { ...process.env, PORT: '0' },
      isReady: (line) => line.includes('fixture server listening'),
    }),
  ]);
  fixturesUrl = (JSON.parse(fixtures.readyLine) as { url: string }).url;
  workDir = await mkdtemp(join(tmpdir(), 'hopper-conformance-2026-'));
});

afterAll(async () => {
  await Promise.all([stack?.stop(), fixtures?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function runSuite(url: string, baseline: string): Promise<{ code: number | null; output: string }> {
  const args = [
    SUITE,
    'server',
    '--url',
    url,
    '--requirements',
    '2026-07-28',
    '--expected-failures',
    baseline,
  ];
  // In a scratch directory: the suite writes its results/ folder to the working directory.
  const child = spawn(process.execPath, args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

it(
  'passes every 2026-07-28 conformance check it can without fixtures, and fails only the listed ones',
  { timeout: 120_000 },
  async () => {
    const { code, output } = await runSuite(stack.url, BASELINE);
    const summary = output.slice(output.indexOf('=== SUMMARY ==='));
    console.log(summary);
    // Every scenario the revision lists ran (scored, extension and pending), not a subset.
    expect(output).toMatch(/^Running requirements 2026-07-28 \(50 scenarios\)/m);
    expect(summary, output.slice(-3_000)).toMatch(/Baseline check passed/);
    expect(code, output.slice(-3_000)).toBe(0);
  },
);

it(
  "passes every 2026-07-28 check that calls a reference fixture, served by Hopper's protocol layer, but the listed ones",
  { timeout: 120_000 },
  async () => {
    const { code, output } = await runSuite(fixturesUrl, FIXTURES_BASELINE);
    const summary = output.slice(output.indexOf('=== SUMMARY ==='));
    console.log(summary);
    expect(output).toMatch(/^Running requirements 2026-07-28 \(50 scenarios\)/m);
    expect(summary, output.slice(-3_000)).toMatch(/Baseline check passed/);
    expect(code, output.slice(-3_000)).toBe(0);
  },
);
