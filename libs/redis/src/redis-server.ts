import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';

export class RedisServerMissingError extends Error {
  override readonly name = 'RedisServerMissingError';
}

/** The one-line explanation printed when there is no Redis to use. */
export const MISSING_REDIS_MESSAGE =
  'redis-server was not found on PATH: install Redis 7 or newer (Debian/Ubuntu: apt-get install redis-server; ' +
  'macOS: brew install redis) or set REDIS_URL to an existing Redis (e.g. REDIS_URL=redis://127.0.0.1:6379).';

export interface RedisServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** Where Redis keeps its files. */
  dir: string;
  /**
   * Keep an append-only file, so queued jobs survive a restart (the local stack). Tests turn it
   * off: they want a throwaway server.
   */
  appendOnly: boolean;
  /**
   * When the append-only file reaches the disk: `everysec` (Redis' default; a crash of the machine
   * may lose the last second of writes) or `always` (every write, slower; a test that kills Redis
   * and counts lost jobs wants no such window).
   */
  appendFsync?: 'always' | 'everysec';
  /** A fixed port (to restart a server where clients expect it); a free one otherwise. */
  port?: number;
}

/**
 * Starts a private redis-server from PATH: loopback only, on a free port, in its own process group
 * (so a terminal's Ctrl-C reaches only its owner, which stops it last).
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error) throw new RedisServerMissingError(MISSING_REDIS_MESSAGE);
  await mkdir(options.dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', options.dir],
      ...['--appendonly', options.appendOnly ? 'yes' : 'no', '--save', ''],
      ...['--appendfsync', options.appendFsync ?? 'everysec'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // redis-server flushes its append-only file and exits
      await exited;
    },
  };
}

/** A free TCP port on loopback (bind port 0, read it, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
