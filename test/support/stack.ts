import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createKeys } from '@hopper/contracts';
import { startNode } from '@hopper/harness';

const entry = (app: string) => fileURLToPath(new URL(`../../apps/${app}/src/main.ts`, import.meta.url));

export interface StackOptions {
  redisUrl: string;
  gateways?: number;
  workers?: number;
  /** Extra environment for every process (e.g. the embeddings provider). */
  env?: Record<string, string>;
}

export interface ProcessHandle {
  process: ChildProcess;
  /** Every line the process printed so far (its JSON log lines, and anything on stderr). */
  lines: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface GatewayHandle extends ProcessHandle {
  url: string;
}

/**
 * A real Hopper deployment in miniature: gateway and worker processes started exactly as `npm start`
 * starts them, sharing one Redis (under a fresh key prefix) and one store directory.
 */
export class TestStack {
  readonly prefix = `test-${randomUUID().slice(0, 8)}`;
  readonly gateways: GatewayHandle[] = [];
  readonly workers: ProcessHandle[] = [];
  readonly redis: Redis;
  readonly #options: StackOptions;
  #dataDir = '';

  private constructor(options: StackOptions) {
    this.#options = options;
    this.redis = new Redis(options.redisUrl, { lazyConnect: false });
    // Some tests stop Redis on purpose; the stack's own processes report it in their logs.
    this.redis.on('error', () => undefined);
  }

  static async start(options: StackOptions): Promise<TestStack> {
    const stack = new TestStack(options);
    stack.#dataDir = await mkdtemp(join(tmpdir(), 'hopper-test-'));
    const started = await Promise.allSettled([
      ...Array.from({ length: options.gateways ?? 1 }, () => stack.startGateway()),
      ...Array.from({ length: options.workers ?? 1 }, () => stack.startWorker()),
    ]);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) {
      // Leave nothing running behind a failed start.
      await stack.stop();
      throw failed.reason;
    }
    return stack;
  }

  get url(): string {
    const gateway = this.gateways[0];
    if (!gateway) throw new Error('no gateway running');
    return gateway.url;
  }

  /** Where the processes keep their data: the LanceDB store is `store/` under it. */
  get dataDir(): string {
    return this.#dataDir;
  }

  get storeUri(): string {
    return join(this.#dataDir, 'store');
  }

  get env(): Record<string, string> {
    return {
      ...(process.env as Record<string, string>),
      REDIS_URL: this.#options.redisUrl,
      HOPPER_REDIS_PREFIX: this.prefix,
      HOPPER_DATA_DIR: this.#dataDir,
      HOPPER_PORT: '0',
      HOPPER_WORKER_METRICS_PORT: '0',
      // A loaded CI machine can delay an event loop past the default cache budget; a timeout there
      // would be the machine's, not Redis's (the outage test stops Redis for real).
      HOPPER_CACHE_TIMEOUT_MS: '1000',
      HOPPER_LOG_LEVEL: 'info',
      ...this.#options.env,
    };
  }

  /** Starts another gateway; `env` adds to (or overrides) the stack's environment for it alone. */
  async startGateway(env: Record<string, string> = {}): Promise<GatewayHandle> {
    let url = '';
    const handle = await spawnApp('gateway', { ...this.env, ...env }, (line) => {
      if (!line.includes('gateway listening')) return false;
      url = (JSON.parse(line) as { url: string }).url;
      return true;
    });
    const gateway = { ...handle, url };
    this.gateways.push(gateway);
    return gateway;
  }

  async startWorker(env: Record<string, string> = {}): Promise<ProcessHandle> {
    const worker = await spawnApp('worker', { ...this.env, ...env }, (line) => line.includes('worker ready'));
    this.workers.push(worker);
    return worker;
  }

  /**
   * The keys of the answers a tool has in the shared result cache (any tenant), not the flight
   * locks of those being computed: a computed answer comes back before its write lands.
   */
  async cachedResults(tool: string): Promise<string[]> {
    const keys = createKeys(this.prefix);
    const lock = keys.flightLock('');
    return (await this.redis.keys(keys.cachedResult('*', tool, '*', '*'))).filter(
      (key) => !key.endsWith(lock),
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.gateways, ...this.workers].map((p) => p.stop()));
    const keys = await this.redis.keys(`${this.prefix}:*`);
    if (keys.length > 0) await this.redis.del(...keys);
    this.redis.disconnect();
    await rm(this.#dataDir, { recursive: true, force: true });
  }
}

async function spawnApp(
  app: string,
  env: Record<string, string>,
  isReady: (line: string) => boolean,
): Promise<ProcessHandle> {
  const lines: string[] = [];
  const started = await startNode(app, entry(app), {
    env,
    isReady,
    readyTimeoutMs: 30_000,
    onLine: (line) => lines.push(line),
  });
  return { process: started.process, lines, stop: (signal) => started.stop(signal) };
}
