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
 * The official MCP conformance suite (its active server scenarios) against a real gateway, with the
 * scenarios Hopper fails on purpose listed, with reasons, in expected-failures.yml. The suite itself
 * exits non-zero on a failure not listed there and on a listed scenario that passes.
 *
 * It runs against the fixture server too (fixture-server.ts: the suite's reference fixtures served
 * by Hopper's HTTP layer, node adapter and MCP endpoint), so the fixture scenarios exercise Hopper's
 * 2025-era serving; its failures are listed in expected-failures-fixtures.yml.
 */

const BASELINE = fileURLToPath(new URL('./expected-failures.yml', import.meta.url));
const FIXTURES_BASELINE = fileURLToPath(new URL('./expected-failures-fixtures.yml', import.meta.url));
const FIXTURE_SERVER = fileURLToPath(new URL('./fixture-server.ts', import.meta.url));
const SUITE = join(
  dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/conformance/package.json')),
  'dist/index.js',
);

/** The scenarios Hopper passes (every check in them). */
const PASSING = [
  'dns-rebinding-protection',
  'ping',
  'resources-list',
  'server-initialize',
  'server-sse-multiple-streams',
  'tools-list',
];

let stack: TestStack;
let fixtures: NodeProcess;
let workDir: string;

beforeAll(async () => {
  [stack, fixtures] = await Promise.all([
    TestStack.start({ redisUrl: inject('redisUrl'), workers: 0 }),
    startNode('conformance-fixtures', FIXTURE_SERVER, {
      env: { ...process.env, PORT: '0' },
      isReady: (line) => line.includes('fixture server listening'),
    }),
  ]);
  workDir = await mkdtemp(join(tmpdir(), 'hopper-conformance-'));
});

afterAll(async () => {
  await Promise.all([stack?.stop(), fixtures?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function runSuite(url: string, baseline: string): Promise<{ code: number | null; output: string }> {
  // In a scratch directory: the suite may write its results/ folder to the working directory.
  const child = spawn(process.execPath, [SUITE, 'server', '--url', url, '--expected-failures', baseline], {
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

it(
  'passes the conformance scenarios it supports, and fails only the listed ones',
  { timeout: 120_000 },
  async () => {
    const { code, output } = await runSuite(stack.url, BASELINE);
    const summary = output.slice(output.indexOf('=== SUMMARY ==='));
    const passed = [...summary.matchAll(/^✓ ([\w-]+): \d+ passed, 0 failed/gm)].map((m) => m[1]);
    console.log(`conformance: ${passed.length} scenarios passed: ${passed.join(', ')}`);
    expect(passed.sort(), summary).toEqual(PASSING);
    expect(code, output.slice(-3_000)).toBe(0);
  },
);

it(
  "passes every fixture scenario it can serve statelessly through Hopper's protocol layer, and fails only the listed ones",
  { timeout: 120_000 },
  async () => {
    const { url } = JSON.parse(fixtures.readyLine) as { url: string };
    const { code, output } = await runSuite(url, FIXTURES_BASELINE);
    const summary = output.slice(output.indexOf('=== SUMMARY ==='));
    console.log(summary);
    expect(summary, output.slice(-3_000)).toMatch(/Baseline check passed/);
    expect(code, output.slice(-3_000)).toBe(0);
  },
);
