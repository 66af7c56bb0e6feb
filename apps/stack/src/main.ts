import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@hopper/contracts';
import { loadConfig } from './config.ts';
import { Supervised } from './supervisor.ts';
import { RedisServerMissingError, startRedisServer, type RedisServer } from '@hopper/redis';

/** How long Ctrl-C waits for the gateway and worker to drain before killing them. */
const STOP_TIMEOUT_MS = 30_000;

/** How long the banner waits for the worker after the gateway is ready before printing without it. */
const WORKER_BANNER_WAIT_MS = 5_000;

const appEntry = (app: string) => fileURLToPath(new URL(`../../${app}/src/main.ts`, import.meta.url));

/**
 * `npm start`: the whole stack on one machine. A private redis-server when REDIS_URL is unset, then
 * the gateway and one worker as separate processes, exactly as they run in production, each
 * restarted with back-off when it dies (see Supervised).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }

  let redis: RedisServer | undefined;
  let redisUrl = config.redisUrl;
  if (!redisUrl) {
    try {
      // Its append-only file keeps queued jobs across restarts of the stack.
      redis = await startRedisServer({ dir: join(config.dataDir, 'redis'), appendOnly: true });
    } catch (error) {
      if (error instanceof RedisServerMissingError) fail(error.message);
      throw error;
    }
    redisUrl = redis.url;
  }

  const env = { ...process.env, REDIS_URL: redisUrl, HOPPER_DATA_DIR: config.dataDir };
  const children: Supervised[] = [];
  let stopping = false;

  let forced = false;

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(children.map((child) => child.stop()));
    if (forced) return;
    await redis?.stop();
    process.exit(code);
  };

  /**
   * The second Ctrl-C: no more waiting. The gateway and worker are killed as SIGKILL would (jobs
   * they were running go back to the queue, and a worker takes them up when Hopper runs again);
   * Redis still gets its orderly stop, so its append-only file is complete.
   */
  const stopNow = async () => {
    forced = true;
    process.stderr.write('hopper: stopping now; running jobs go back to the queue for the next start\n');
    for (const child of children) child.kill();
    await redis?.stop();
    process.exit(130);
  };

  /**
   * Starts an app under supervision. A process that dies after it said it was ready (a worker taken
   * down by a hostile document, a gateway killed) is restarted with back-off and never stops the
   * stack; one that fails while starting does, since a restart would only repeat its problem.
   */
  const start = (name: string, onLine: (line: string, child: Supervised) => void): Supervised => {
    const supervised: Supervised = new Supervised({
      name,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      log: (line) => process.stderr.write(`${line}\n`),
      onStartFailure: (reason) => {
        process.stderr.write(`hopper: the ${name} stopped while starting (${reason}); stopping the stack\n`);
        void stop(1);
      },
      spawn: () => {
        // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops the
        // children in order (gateway and worker drain first, Redis last) instead of all at once.
        const child = spawn(process.execPath, [appEntry(name)], {
          env,
          stdio: ['ignore', 'pipe', 'inherit'],
          detached: true,
        });
        // Logs pass through unchanged (JSON lines, one per event); the launcher only watches for readiness.
        createInterface({ input: child.stdout }).on('line', (line) => {
          process.stdout.write(`${line}\n`);
          onLine(line, supervised);
        });
        return child;
      },
    });
    children.push(supervised);
    supervised.start();
    return supervised;
  };

  let firstGatewayUrl: string | undefined;
  const gatewayUrl = new Promise<string>((resolve) => {
    start('gateway', (line, gateway) => {
      const draining = drainingWork(line, 'draining running calls');
      if (draining && stopping && !forced) {
        const { running, drainMs } = draining;
        const waiting =
          running > 0
            ? `waiting up to ${drainMs / 1000} s for ${running} running call${running === 1 ? '' : 's'}`
            : 'stopping';
        process.stderr.write(`hopper: ${waiting}; Ctrl-C again to stop now\n`);
      }
      const url = listeningUrl(line);
      if (!url) return;
      gateway.markStarted();
      firstGatewayUrl ??= url;
      // With HOPPER_PORT=0 a restarted gateway listens on a new port: say where.
      if (url !== firstGatewayUrl) process.stderr.write(`hopper: the gateway now listens at ${url}\n`);
      resolve(url);
    });
  });
  // The worker's metrics URL once it is ready, or why it has none (a taken port only goes unobserved).
  let reportWorker: ((metrics: string) => void) | undefined;
  const workerReady = new Promise<string>((resolve) => (reportWorker = resolve));
  let workerMetricsUrl: string | undefined;
  start('worker', (line, worker) => {
    const draining = drainingWork(line, 'draining running jobs');
    if (draining && draining.running > 0 && stopping && !forced) {
      const { running, drainMs } = draining;
      process.stderr.write(
        `hopper: the worker is finishing ${running} running job${running === 1 ? '' : 's'} (up to ${drainMs / 1000} s, ` +
          'then they go back to the queue); Ctrl-C again to stop now\n',
      );
    }
    if (line.includes('worker metrics at /metrics')) {
      const { port } = JSON.parse(line) as { port?: number };
      workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
    } else if (line.includes('worker metrics server could not start')) {
      workerMetricsUrl = 'not served (its port is taken; see the worker log)';
    }
    if (!line.includes('"worker ready"')) return;
    worker.markStarted();
    reportWorker?.(workerMetricsUrl ?? 'not served (see the worker log)');
    reportWorker = undefined;
  });
  // The first Ctrl-C (or SIGTERM) drains; the next one stops at once.
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals === 1) void stop(0);
    else if (signals === 2) void stopNow();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Should the launcher die some other way, take the stack with it rather than leave orphans.
  process.on('exit', () => {
    for (const child of children) child.kill();
    redis?.process.kill('SIGKILL');
  });

  const mcpUrl = await gatewayUrl;
  // A cold worker (first start, a slow disk) can be ready well after the gateway: the banner waits a
  // little for it, then says it is still starting and reports it on its own line when it is ready.
  const workerLine = await Promise.race([
    workerReady,
    sleep(WORKER_BANNER_WAIT_MS, undefined, { ref: false }),
  ]);
  if (workerLine === undefined) {
    void workerReady.then((metrics) =>
      process.stdout.write(`hopper: the worker is ready (metrics: ${metrics})\n`),
    );
  }
  const base = mcpUrl.replace(/\/mcp$/, '');
  process.stdout.write(
    [
      '',
      'Hopper is running:',
      `  MCP endpoint   ${mcpUrl}`,
      `  progress page  ${base}/`,
      `  REST API       ${base}/v1   (OpenAPI: ${base}/v1/openapi.json; Socket.IO: ${base}/socket.io)`,
      `  health         ${base}/healthz   readiness ${base}/readyz`,
      `  metrics        ${base}/metrics   (worker: ${workerLine ?? 'still starting; a line follows when it is ready'})`,
      `  Redis          ${redisUrl}${redis ? ` (private, data in ${join(config.dataDir, 'redis')})` : ''}`,
      `  store          ${config.storeUri}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n') + '\n',
  );
}

function listeningUrl(line: string): string | undefined {
  if (!line.includes('gateway listening')) return undefined;
  try {
    const entry = JSON.parse(line) as { url?: unknown };
    return typeof entry.url === 'string' ? entry.url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A drain's log line (the gateway's "draining running calls", the worker's "draining running jobs"):
 * how many it waits for, and how long at most.
 */
function drainingWork(line: string, message: string): { running: number; drainMs: number } | undefined {
  if (!line.includes(message)) return undefined;
  try {
    const entry = JSON.parse(line) as { running?: unknown; drainMs?: unknown };
    if (typeof entry.running !== 'number' || typeof entry.drainMs !== 'number') return undefined;
    return { running: entry.running, drainMs: entry.drainMs };
  } catch {
    return undefined;
  }
}

function fail(message: string): never {
  process.stderr.write(`hopper: ${message}\n`);
  process.exit(1);
}

await main();
