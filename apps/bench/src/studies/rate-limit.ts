/**
 * `npm run bench:rate-limit`: what the per-tenant rate limiter adds to a call.
 *
 * 1. The limiter alone: `TokenBucket.take` against a private redis-server, one call at a time and
 *    64 at once (auto-pipelined), next to a bare PING (one round trip, nothing else).
 * 2. Through a gateway: the same cached `search` (an L1 hit, the fastest call there is) with the
 *    limiter off and on, one call at a time and 32 clients at once, the two runs alternated (load
 *    shedding off, so that only the limiter differs).
 * 3. The default limits under 50 clients: how many calls were shed, and the event-loop lag.
 *
 * Prints a Markdown table. Figures from a shared machine are noisy: compare runs of the same pass.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createKeys } from '@hopper/contracts';
import { percentile, startNode, type NodeProcess } from '@hopper/harness';
import { closeRedis, createRedis, startRedisServer, TokenBucket } from '@hopper/redis';
import { connectSdkClient } from '../load/load-generator.ts';

const { values: options } = parseArgs({
  options: {
    calls: { type: 'string', default: '5000' },
    searches: { type: 'string', default: '2000' },
    /** Which parts to run: `alone`, `gateway`, `load` (comma-separated). */
    parts: { type: 'string', default: 'alone,gateway,load' },
    /** Client counts of the gateway part (comma-separated). */
    clients: { type: 'string', default: '1,32' },
    passes: { type: 'string', default: '2' },
  },
});
const parts = new Set(options.parts.split(','));
const CALLS = Number(options.calls);
const SEARCHES = Number(options.searches);
const root = fileURLToPath(new URL('../../../../', import.meta.url));

const ms = (value: number) => value.toFixed(3);

interface Figures {
  p50: number;
  p99: number;
  perSecond: number;
}

/** Runs `total` calls with `concurrency` in flight; per-call latencies and overall rate. */
async function measure(total: number, concurrency: number, call: (worker: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < total) {
        next += 1;
        const t = performance.now();
        await call(worker);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: total / elapsedS };
}

function row(name: string, f: Figures): string {
  return `| ${name} | ${ms(f.p50)} | ${ms(f.p99)} | ${Math.round(f.perSecond)} |`;
}

async function limiterAlone(redisUrl: string): Promise<string[]> {
  const redis = createRedis(redisUrl, { name: 'bench', role: 'command', onError: () => undefined });
  const keys = createKeys(`bench-${randomUUID().slice(0, 8)}`);
  // A rate no run reaches: every call is a grant, the path every admitted call takes.
  const bucket = new TokenBucket({ redis, keys, ratePerSecond: 1e9, burst: 1e9 });
  await bucket.take('warm-up');
  const rows = [
    row('PING, 1 at a time', await measure(CALLS, 1, () => redis.ping())),
    row('take(), 1 at a time', await measure(CALLS, 1, () => bucket.take('tenant'))),
    row('PING, 64 at once', await measure(CALLS * 4, 64, () => redis.ping())),
    row('take(), 64 at once (one tenant)', await measure(CALLS * 4, 64, () => bucket.take('tenant'))),
    row('take(), 64 at once (64 tenants)', await measure(CALLS * 4, 64, (w) => bucket.take(`tenant-${w}`))),
  ];
  await closeRedis(redis);
  return rows;
}

interface Gateway {
  url: string;
  process: NodeProcess;
}

async function startGateway(env: Record<string, string>): Promise<Gateway> {
  const gateway = await startNode('gateway', join(root, 'apps/gateway/src/main.ts'), {
    env: { ...process.env, HOPPER_PORT: '0', HOPPER_LOG_LEVEL: 'info', ...env },
    isReady: (line) => line.includes('gateway listening'),
  });
  return { url: (JSON.parse(gateway.readyLine) as { url: string }).url, process: gateway };
}

async function stopGateway(gateway: Gateway): Promise<void> {
  await gateway.process.stop();
}

interface SearchFigures extends Figures {
  /** Calls answered 503 by the load shedder. */
  shed: number;
}

async function cachedSearches(
  gateway: Gateway,
  concurrency: number,
  total = SEARCHES,
): Promise<SearchFigures> {
  const clients = await Promise.all(Array.from({ length: concurrency }, () => connectSdkClient(gateway.url)));
  let shed = 0;
  const search = async (worker: number) => {
    try {
      await clients[worker]!.callTool({ name: 'search', arguments: { query: 'lighthouse keeper lamp' } });
    } catch (error) {
      if (!(error instanceof Error && error.message.includes('Hopper is busy'))) throw error;
      shed += 1;
    }
  };
  await measure(200, concurrency, search);
  shed = 0;
  const figures = await measure(total, concurrency, search);
  await Promise.all(clients.map((client) => client.close()));
  return { ...figures, shed };
}

/** A gauge's value (summed over labels) from a gateway's /metrics. */
async function scrape(gateway: Gateway, name: string): Promise<number> {
  const text = await (await fetch(gateway.url.replace('/mcp', '/metrics'))).text();
  const pattern = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm');
  return [...text.matchAll(pattern)].reduce((sum, match) => sum + Number(match[1]), 0);
}

function gatewayEnv(redisUrl: string, dataDir: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    HOPPER_DATA_DIR: dataDir,
    HOPPER_REDIS_PREFIX: `bench-${randomUUID().slice(0, 8)}`,
  };
}

async function throughGateway(redisUrl: string, dataDir: string): Promise<string[]> {
  const env = { ...gatewayEnv(redisUrl, dataDir), HOPPER_SHED_EVENT_LOOP_LAG_MS: '0' };
  const configs = {
    'limiter off': { ...env },
    'limiter on': { ...env, HOPPER_RATE_LIMIT_PER_SECOND: '1000000000' },
  };
  const rows: string[] = [];
  for (const concurrency of options.clients.split(',').map(Number)) {
    for (let pass = 1; pass <= Number(options.passes); pass++) {
      for (const [name, config] of Object.entries(configs)) {
        const gateway = await startGateway(config);
        try {
          const figures = await cachedSearches(gateway, concurrency);
          rows.push(row(`cached search, ${name}, ${concurrency} client(s), pass ${pass}`, figures));
        } finally {
          await stopGateway(gateway);
        }
      }
    }
  }
  return rows;
}

async function defaultsUnderLoad(redisUrl: string, dataDir: string): Promise<string> {
  const gateway = await startGateway(gatewayEnv(redisUrl, dataDir));
  try {
    const figures = await cachedSearches(gateway, 50, 20_000);
    const lagP99 = await scrape(gateway, 'nodejs_eventloop_lag_p99_seconds');
    return [
      `50 clients, 20,000 cached searches, default limits: p50 ${ms(figures.p50)} ms, p99 ${ms(figures.p99)} ms,`,
      `${Math.round(figures.perSecond)} calls/s, ${figures.shed} shed; event-loop lag p99 ${Math.round(lagP99 * 1000)} ms`,
    ].join(' ');
  } finally {
    await stopGateway(gateway);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'hopper-bench-rate-'));
const redis = await startRedisServer({ dir, appendOnly: false });
try {
  const header = ['| what | p50 ms | p99 ms | calls/s |', '| --- | --- | --- | --- |'];
  if (parts.has('alone')) {
    console.log(['## The limiter alone', '', ...header, ...(await limiterAlone(redis.url))].join('\n'));
  }
  if (parts.has('gateway')) {
    const rows = await throughGateway(redis.url, dir);
    console.log(['', '## Through a gateway', '', ...header, ...rows].join('\n'));
  }
  if (parts.has('load')) {
    console.log(['', '## Default limits under load', '', await defaultsUnderLoad(redis.url, dir)].join('\n'));
  }
} finally {
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
}
