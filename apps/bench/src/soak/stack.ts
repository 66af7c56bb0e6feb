import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from '@hopper/harness';
import { startRedisServer, type RedisServer } from '@hopper/redis';
import { podMemoryLimitMb } from './trend.ts';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** Debian's libjemalloc2 on amd64 (Debian's redis-server package pulls it in). */
const jemallocPath = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

/**
 * `glibc`: Node's own malloc, as in the images. `jemalloc` (preloaded) is there to compare: it
 * changed the picture little (docs/development.md, "Fuzzing and soak"), so the images do not use it.
 */
export type Allocator = 'jemalloc' | 'glibc';

/** A gateway or worker process of the soak, as the sampler sees it. */
export interface SoakProcess {
  name: 'gateway' | 'worker';
  pid: number;
  /** Its Prometheus endpoint (prom-client's default process and Node.js metrics are on it). */
  metricsUrl: string;
  /** Log lines at level error or above (pino 50+): a soak that logs an error has failed. */
  errorLines: string[];
  alive(): boolean;
  stop(): Promise<void>;
}

export interface SoakStack {
  mcpUrl: string;
  redisUrl: string;
  prefix: string;
  gateway: SoakProcess;
  worker: SoakProcess;
  stop(): Promise<void>;
}

/**
 * One gateway and one worker, started as `npm start` starts them, on a fresh data directory and
 * key prefix, with the heap limit of their pods. Without `redisUrl` a private
 * redis-server (no persistence) is started and stopped.
 */
export async function startSoakStack(options: {
  redisUrl?: string;
  allocator?: Allocator;
}): Promise<SoakStack> {
  const allocator = options.allocator ?? 'glibc';
  if (allocator === 'jemalloc' && !existsSync(jemallocPath)) {
    throw new Error(`${jemallocPath} is missing: install Debian's libjemalloc2 to soak on jemalloc`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'hopper-soak-'));
  let redis: RedisServer | undefined;
  if (!options.redisUrl) redis = await startRedisServer({ dir: join(dataDir, 'redis'), appendOnly: false });
  const redisUrl = options.redisUrl ?? redis!.url;
  const prefix = `soak-${randomUUID().slice(0, 8)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: redisUrl,
    HOPPER_REDIS_PREFIX: prefix,
    HOPPER_DATA_DIR: dataDir,
    HOPPER_PORT: '0',
    HOPPER_WORKER_METRICS_PORT: '0',
    // Info: the processes announce their URLs at info level; per-call logs are debug.
    HOPPER_LOG_LEVEL: 'info',
    // The in-process result cache is meant to fill up to its bound (64 MB of packed results by
    // default, 10-15 minutes of this traffic). A small bound fills during the warm-up, so a trend
    // after it is growth the cache cannot explain.
    HOPPER_CACHE_L1_MAX_MB: '8',
  };
  if (allocator === 'jemalloc') env.LD_PRELOAD = jemallocPath;
  else delete env.LD_PRELOAD;
  const started = await Promise.allSettled([
    spawnApp('gateway', withPodHeap(env, 'gateway'), (line) =>
      line.includes('gateway listening') ? new URL(logged(line, 'url')).origin : undefined,
    ),
    spawnApp('worker', withPodHeap(env, 'worker'), (line) =>
      line.includes('worker metrics at /metrics') ? `http://127.0.0.1:${logged(line, 'port')}` : undefined,
    ),
  ]);
  const stopAll = async () => {
    await Promise.all(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.process.stop()] : [])));
    await redis?.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  const [gateway, worker] = started;
  if (gateway?.status !== 'fulfilled' || worker?.status !== 'fulfilled') {
    await stopAll();
    const failed = started.find((s) => s.status === 'rejected');
    throw failed?.reason instanceof Error ? failed.reason : new Error('the soak stack did not start');
  }
  return {
    mcpUrl: `${gateway.value.origin}/mcp`,
    redisUrl,
    prefix,
    gateway: gateway.value.process,
    worker: worker.value.process,
    stop: stopAll,
  };
}

/**
 * The heap limit the process would have in its pod. Node sizes its heap from the memory limit of its
 * cgroup (half of it, for limits up to 4 GiB); on a workstation without one it allows gigabytes and
 * collects garbage lazily, so RSS would say more about the machine than about the code.
 */
function withPodHeap(env: NodeJS.ProcessEnv, name: 'gateway' | 'worker'): NodeJS.ProcessEnv {
  const heapMb = podMemoryLimitMb[name] / 2;
  return { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --max-old-space-size=${heapMb}`.trim() };
}

function logged(line: string, field: string): string {
  return String((JSON.parse(line) as Record<string, unknown>)[field]);
}

/** Starts an app and finds the origin it serves (and its `/metrics`) in the log line that says it is ready. */
async function spawnApp(
  name: 'gateway' | 'worker',
  env: NodeJS.ProcessEnv,
  announce: (line: string) => string | undefined,
): Promise<{ origin: string; process: SoakProcess }> {
  const child = await startNode(name, join(root, `apps/${name}/src/main.ts`), {
    env,
    isReady: (line) => announce(line) !== undefined,
    readyTimeoutMs: READY_TIMEOUT_MS,
    stopTimeoutMs: 30_000,
  });
  const origin = announce(child.readyLine) as string;
  return {
    origin,
    process: {
      name,
      pid: child.pid,
      metricsUrl: `${origin}/metrics`,
      errorLines: child.errorLines,
      alive: () => child.ended() === undefined,
      async stop() {
        await child.stop();
      },
    },
  };
}
