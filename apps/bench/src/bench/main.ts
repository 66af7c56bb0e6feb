import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runBench, type Deployment } from './bench.ts';
import { profiles, type Profile } from './profiles.ts';
import { killStarted } from '@hopper/harness';
import { writeReport } from './report.ts';

const USAGE = `usage: npm run bench -- [--quick | --tiny] [--out DIR] [--url URL [--token KEY] [--store DIR] [--tenant T]]

Starts Hopper as npm start does (on a copy of a cached synthetic corpus), the plain-SDK and ceiling
peers, and drives MCP traffic over Streamable HTTP through every scenario; writes bench.md and
bench.json into --out (default reports).

  (no profile)   the full run: 10k and 100k chunk corpora, 10 s steps (15-20 minutes, plus about
                 3 for user-ingest-100k)
  --quick        the 10k corpus and 1.5 s steps, under two minutes on an idle machine (plus
                 about 1.5 for user-ingest-100k)
  --tiny         seconds; for the test suite (the figures mean nothing)
  --out DIR      where the reports go
  --url URL      measure a running Hopper's MCP endpoint instead: the corpus is ingested into its
                 "bench" collection through MCP (once), scenarios that must control the stack
                 (tracing, ingest throughput) are skipped, and its processes are not sampled
  --token KEY    its API key (HOPPER_API_KEYS)
  --store DIR    its store directory, if readable here: adds the plain-SDK peer on it
  --tenant T     the tenant of --token, for the plain-SDK peer (default local)
  --memory-limit MB  a server process past this RSS ends the step and its sweep (default:
                 6 GB, or a quarter of the memory if less)
  --only IDS     only these scenarios (comma-separated ids: user-ingest, user-ingest-100k,
                 search-cached, search-uncached, search-topk, search-sdk-client, tracing-overhead,
                 get-job, embed-small, ingest-ack, ingest-throughput, progress-latency)
  --sweep N,…    the client counts of the search sweeps instead of the profile's
  --step-seconds S  the measured window of each step instead of the profile's
  --gateway-env NAME=VALUE  added to the bench's gateways' environment (repeatable), for A/B runs
                 such as HOPPER_MCP_FAST_PATH=off
  --cpu-prof     the bench's gateways write V8 CPU profiles into DIR/profiles (open them in Chrome
                 DevTools, or summarise one: npm run bench:profile -- FILE.cpuprofile)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      tiny: { type: 'boolean', default: false },
      out: { type: 'string', default: 'reports' },
      url: { type: 'string' },
      token: { type: 'string' },
      store: { type: 'string' },
      tenant: { type: 'string', default: 'local' },
      'memory-limit': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      only: { type: 'string' },
      sweep: { type: 'string' },
      'step-seconds': { type: 'string' },
      'gateway-env': { type: 'string', multiple: true },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const base: Profile = values.tiny ? profiles.tiny : values.quick ? profiles.quick : profiles.full;
  const limit = Number(values['memory-limit']);
  const limited: Profile = values['memory-limit'] === undefined ? base : { ...base, memoryLimitMb: limit };
  const sweep = values.sweep?.split(',').map(Number);
  if (sweep?.some((n) => !(Number.isInteger(n) && n > 0))) {
    process.stderr.write(`--sweep takes positive client counts, comma-separated\n`);
    process.exit(2);
  }
  const stepSeconds = values['step-seconds'] === undefined ? undefined : Number(values['step-seconds']);
  if (stepSeconds !== undefined && !(stepSeconds > 0)) {
    process.stderr.write(`--step-seconds must be a positive number\n`);
    process.exit(2);
  }
  const profile: Profile = {
    ...limited,
    ...(sweep ? { sweep } : {}),
    ...(stepSeconds ? { durationMs: stepSeconds * 1000 } : {}),
  };
  const gatewayEnv: Record<string, string> = Object.fromEntries(
    (values['gateway-env'] ?? []).map((pair): [string, string] => [
      pair.slice(0, Math.max(0, pair.indexOf('='))),
      pair.slice(pair.indexOf('=') + 1),
    ]),
  );
  if (!(profile.memoryLimitMb > 0)) {
    process.stderr.write(`--memory-limit must be a positive number of MB\n`);
    process.exit(2);
  }
  const started = performance.now();
  const log = (line: string): void =>
    void process.stderr.write(`[bench ${Math.round((performance.now() - started) / 1000)}s] ${line}\n`);
  const report = await runBench({
    profile,
    // The token stays out of the report.
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])]
      .join(' ')
      .replace(/(--token[= ])\S+/, '$1***'),
    log,
    ...(values.url ? { deployment: deploymentOf(values) } : {}),
    ...(values['cpu-prof'] ? { cpuProfileDir: resolve(values.out, 'profiles') } : {}),
    ...(values.only ? { only: values.only.split(',') } : {}),
    ...(values['gateway-env'] ? { gatewayEnv } : {}),
  });
  const files = await writeReport(resolve(values.out), report);
  log(`wrote ${files.join(', ')}`);
  for (const target of report.targets) {
    log(
      `${target.met === null ? 'not measured' : target.met ? 'met' : 'NOT met'}: ${target.target} (${target.value ?? '-'} ${target.unit}, ${target.measuredAt})`,
    );
  }
}

function deploymentOf(values: { url?: string; token?: string; store?: string; tenant: string }): Deployment {
  return {
    url: values.url ?? '',
    tenant: values.tenant,
    ...(values.token ? { token: values.token } : {}),
    ...(values.store ? { store: resolve(values.store) } : {}),
  };
}

// Interrupted or failed, the bench takes what it started with it (a run stops them in order itself).
process.on('exit', killStarted);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

await main();
