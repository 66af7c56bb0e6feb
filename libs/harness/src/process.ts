import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
/** Output lines kept per process for error messages. */
const OUTPUT_LINES = 200;
/** pino's numeric levels (Hopper logs with pino): `warn`, and `error` (`fatal` is above it). */
const PINO_WARN = 40;
const PINO_ERROR = 50;

/** Every process started here (or tracked) and not yet seen to exit: killed if the program dies first. */
const running = new Set<ChildProcess>();

/** Tracks a child process this module did not start (like redis-server) for `killStarted`. */
export function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

/**
 * Kills every process started here that is still running: for a program's own exit when it was
 * interrupted or failed before stopping them in order (`process.on('exit', killStarted)`).
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

/** A Node process started by `startNode`, ready and running. */
export interface NodeProcess {
  name: string;
  process: ChildProcess;
  pid: number;
  /** The line that said it was ready. */
  readyLine: string;
  /** Its last output lines (stdout and stderr), for error reports. */
  output: string[];
  /** Every log line it printed at level error or above: a run that logs an error has failed. */
  errorLines: string[];
  /**
   * Sends `signal` (SIGTERM by default), then SIGKILL if it has not exited after the stop timeout;
   * resolves with its exit code once it has exited.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** How it ended, if it has: exit code or signal, and its last line of output. */
  ended(): string | undefined;
}

export interface StartNodeOptions {
  /** The whole environment of the process (a lib does not read the caller's `process.env`). */
  env: NodeJS.ProcessEnv;
  /** Says whether a line of its stdout announces that it is ready. */
  isReady: (line: string) => boolean;
  args?: string[];
  /** Node's own options, before the script (`--max-old-space-size=…`). */
  nodeArgs?: string[];
  /** How long it may take to say it is ready (60 s by default); then it is killed. */
  readyTimeoutMs?: number;
  /** How long `stop()` waits after its signal before SIGKILL (20 s by default). */
  stopTimeoutMs?: number;
  /** Called with every line it prints, stdout and stderr, for the whole of its life. */
  onLine?: (line: string) => void;
}

/**
 * Runs `node <script> ...args` and waits for a stdout line for which `isReady` holds. Output is
 * kept (the last 200 lines) for error messages and never echoed. A process that exits or is not
 * ready in time fails the start with its output in the error, and is never left running.
 */
export async function startNode(
  name: string,
  script: string,
  options: StartNodeOptions,
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...(options.args ?? [])], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const output: string[] = [];
  const errorLines: string[] = [];
  const warnings = new Map<string, number>();
  logged.set(child.pid as number, warnings);
  const remember = (line: string) => {
    output.push(line);
    if (output.length > OUTPUT_LINES) output.shift();
    const entry = logEntry(line);
    if (entry !== undefined && entry.level >= PINO_WARN) {
      warnings.set(entry.msg, (warnings.get(entry.msg) ?? 0) + 1);
      if (entry.level >= PINO_ERROR) errorLines.push(line);
    }
    options.onLine?.(line);
  };
  createInterface({ input: child.stderr }).on('line', remember);
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const readyLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready in ${readyTimeoutMs / 1000} s:\n${output.join('\n')}`));
    }, readyTimeoutMs);
    let ready = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      remember(line);
      if (!ready && options.isReady(line)) {
        ready = true;
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${output.join('\n')}`));
    });
  });
  const stopTimeoutMs = options.stopTimeoutMs ?? STOP_TIMEOUT_MS;
  return {
    name,
    process: child,
    pid: child.pid as number,
    readyLine,
    output,
    errorLines,
    stop: (signal) => stopChild(child, signal, stopTimeoutMs),
    ended() {
      if (child.exitCode === null && child.signalCode === null) return undefined;
      return `exited (${child.signalCode ?? `code ${child.exitCode}`}); last output: ${output.at(-1)?.slice(0, 200) ?? 'none'}`;
    },
  };
}

/** The level and message of a JSON log line (pino's), if it is one. */
function logEntry(line: string): { level: number; msg: string } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return typeof entry.level === 'number' ? { level: entry.level, msg: String(entry.msg) } : undefined;
  } catch {
    return undefined;
  }
}

async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = STOP_TIMEOUT_MS,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}
