import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
/** pino's numeric level of `warn`; `error` and `fatal` are above it. */
const PINO_WARN = 40;

/** Every process the bench started and has not seen exit: killed if the bench dies first. */
const running = new Set<ChildProcess>();

/** Tracks a child process (one this module did not start, like redis-server) for `killStarted`. */
export function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/**
 * Kills every process the bench started that is still running: for the bench's own exit when it
 * was interrupted or failed before stopping them in order.
 */
export function killStarted(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Warnings and errors each started process has logged so far, by message, keyed by pid. */
const logged = new Map<number, Map<string, number>>();

/** A copy of what the process `pid` has logged at warn level or above, by message. */
export function warningsOf(pid: number): Map<string, number> {
  return new Map(logged.get(pid));
}

/** A Node process the bench started, ready and running. */
export interface NodeProcess {
  name: string;
  process: ChildProcess;
  pid: number;
  /** The line that said it was ready. */
  readyLine: string;
  /** Its last output lines (stdout and stderr), for error reports. */
  output: string[];
  /** SIGTERM, then SIGKILL after 20 s; resolves when it has exited. */
  stop(): Promise<void>;
  /** How it ended, if it has: exit code or signal, and its last line of output. */
  ended(): string | undefined;
}

/**
 * Runs `node <script> ...args` and waits for a stdout line for which `isReady` holds. Output is
 * kept (the last 200 lines) for error messages and never echoed.
 */
export async function startNode(
  name: string,
  script: string,
  options: { args?: string[]; env?: Record<string, string | undefined>; isReady: (line: string) => boolean },
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [script, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const output: string[] = [];
  const warnings = new Map<string, number>();
  logged.set(child.pid as number, warnings);
  const remember = (line: string) => {
    output.push(line);
    if (output.length > 200) output.shift();
    const message = warningMessage(line);
    if (message !== undefined) warnings.set(message, (warnings.get(message) ?? 0) + 1);
  };
  createInterface({ input: child.stderr }).on('line', remember);
  const readyLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready in ${READY_TIMEOUT_MS / 1000} s:\n${output.join('\n')}`));
    }, READY_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on('line', (line) => {
      remember(line);
      if (options.isReady(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${output.join('\n')}`));
    });
  });
  return {
    name,
    process: child,
    pid: child.pid as number,
    readyLine,
    output,
    stop: () => stopChild(child),
    ended() {
      if (child.exitCode === null && child.signalCode === null) return undefined;
      return `exited (${child.signalCode ?? `code ${child.exitCode}`}); last output: ${output.at(-1)?.slice(0, 200) ?? 'none'}`;
    },
  };
}

/** The message of a JSON log line at warn level or above (Hopper logs with pino). */
function warningMessage(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return typeof entry.level === 'number' && entry.level >= PINO_WARN ? String(entry.msg) : undefined;
  } catch {
    return undefined;
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
