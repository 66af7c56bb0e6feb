import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode } from '@hopper/harness';

const LAUNCHER = fileURLToPath(new URL('../../stack/src/main.ts', import.meta.url));

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
  const { logFile } = options;
  const launcher = await startNode('the stack', LAUNCHER, {
    env: childEnv,
    isReady: (line) => /MCP endpoint\s+\S+/.test(line),
    // The launcher stops its worker, gateway and Redis in turn before it exits: give it time.
    stopTimeoutMs: 60_000,
    onLine: logFile === undefined ? undefined : (line) => appendFileSync(logFile, `${line}\n`),
  });
  return {
    mcpUrl: /MCP endpoint\s+(\S+)/.exec(launcher.readyLine)?.[1] as string,
    dataDir,
    output: launcher.output,
    async stop() {
      await launcher.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
