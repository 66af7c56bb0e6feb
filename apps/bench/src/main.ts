import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runBench } from './bench.ts';
import { profiles, type Profile } from './profiles.ts';
import { writeReport } from './report.ts';

const USAGE = `usage: npm run bench -- [--quick | --tiny] [--out DIR]

Starts Hopper as npm start does (on a copy of a cached synthetic corpus), the plain-SDK and ceiling
peers, and drives MCP traffic over Streamable HTTP through every scenario; writes bench.md and
bench.json into --out (default reports).

  (no profile)   the full run: 10k and 100k chunk corpora, 10 s steps (about 15 minutes)
  --quick        the 10k corpus and 1.5 s steps, under two minutes
  --tiny         seconds; for the test suite (the figures mean nothing)
  --out DIR      where the reports go`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      tiny: { type: 'boolean', default: false },
      out: { type: 'string', default: 'reports' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const profile: Profile = values.tiny ? profiles.tiny : values.quick ? profiles.quick : profiles.full;
  const started = performance.now();
  const log = (line: string): void =>
    void process.stderr.write(`[bench ${Math.round((performance.now() - started) / 1000)}s] ${line}\n`);
  const report = await runBench({
    profile,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
      ' ',
    ),
    log,
  });
  const files = await writeReport(resolve(values.out), report);
  log(`wrote ${files.join(', ')}`);
  for (const target of report.targets) {
    log(
      `${target.met === null ? 'not measured' : target.met ? 'met' : 'NOT met'}: ${target.target} (${target.value ?? '-'} ${target.unit}, ${target.measuredAt})`,
    );
  }
}

await main();
