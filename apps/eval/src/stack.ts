import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const LAUNCHER = fileURLToPath(new URL('../../stack/src/main.ts', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

/** A Hopper stack started by its own launcher (`npm start`), on a fresh data directory. */
export interface RunningStack {
  mcpUrl: string;
  dataDir: string;
  /** The launcher's last output lines, for error reports. */
  output: string[];
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra environment for every process (e.g. `HOPPER_WORKER_CONCURRENCY`). */
  env?: Record<string, string>;
  /** Appends every line the stack prints (JSON logs) to this file. */
  logFile?: string;
}

/**
 * Starts `npm start` exactly as a user would (private redis-server, gateway, worker) with its data
 * in a temporary directory, and returns once the gateway listens.
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const env = options.env ?? {};
  const dataDir = await mkdtemp(join(tmpdir(), 'hopper-eval-'));
  // Info level: the launcher learns the gateway's URL from its "listening" log line.
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    HOPPER_DATA_DIR: dataDir,
    HOPPER_PORT: '0',
    HOPPER_LOG_LEVEL: 'info',
    ...env,
  };
  // The launcher starts its own Redis; one inherited from the shell would be shared with other work.
  delete childEnv['REDIS_URL'];
  const child: ChildProcess = spawn(process.execPath, [LAUNCHER], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const remember = (line: string): void => {
    output.push(line);
    if (options.logFile !== undefined) appendFileSync(options.logFile, `${line}\n`);
    if (output.length > 200) output.shift();
  };
  child.stderr?.on('data', (chunk: Buffer) => chunk.toString().split('\n').forEach(remember));

  const mcpUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the stack did not start:\n${output.join('\n')}`)),
      READY_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      const url = /MCP endpoint\s+(\S+)/.exec(line)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the stack exited (${code}) before it was ready:\n${output.join('\n')}`));
    });
  });

  return {
    mcpUrl,
    dataDir,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
