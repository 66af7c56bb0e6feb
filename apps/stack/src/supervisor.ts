import type { ChildProcess } from 'node:child_process';

/** How a crashed process is restarted: waits double from `initialMs` up to `maxMs`. */
export interface Backoff {
  /** The wait before the first restart. */
  initialMs: number;
  /** The longest wait between restarts. */
  maxMs: number;
  /**
   * A process that stayed up this long before it died is treated as healthy again: the next wait
   * starts over at `initialMs`. Shorter lives keep doubling, so a process that dies on every start
   * (a poison job taken up again at once) costs one attempt per `maxMs`, not a busy loop.
   */
  stableMs: number;
}

/** 1 s, 2 s, 4 s ... 30 s; reset after a minute up. */
export const defaultBackoff: Backoff = { initialMs: 1_000, maxMs: 30_000, stableMs: 60_000 };

/**
 * The wait before the next restart, given the previous wait (`undefined`: none yet) and how long the
 * process stayed up this time.
 */
export function nextRestartDelay(previousMs: number | undefined, upMs: number, backoff: Backoff): number {
  if (previousMs === undefined || upMs >= backoff.stableMs) return backoff.initialMs;
  return Math.min(previousMs * 2, backoff.maxMs);
}

export interface SupervisedOptions {
  /** What the log lines call it ("worker"). */
  name: string;
  /** Starts one run of the process; called again for every restart. */
  spawn: () => ChildProcess;
  /** Where the one line per restart goes (the launcher: stderr). */
  log: (line: string) => void;
  /**
   * Called when the process ends before it was ever marked started (see `markStarted`): such an
   * end is a start-up failure (a taken port, a bad setting), which a restart would only repeat.
   */
  onStartFailure: (reason: string) => void;
  /** How long `stop` waits for the process to drain before killing it. */
  stopTimeoutMs: number;
  backoff?: Backoff;
}

/**
 * One child process kept running: when it exits unexpectedly it is started again after a
 * back-off, with one log line each time. `stop` ends it (or the pending restart) for good.
 */
export class Supervised {
  readonly #options: SupervisedOptions;
  readonly #backoff: Backoff;
  #child: ChildProcess | undefined;
  #startedAt = 0;
  #everStarted = false;
  #stopping = false;
  #delayMs: number | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #restarts = 0;

  constructor(options: SupervisedOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? defaultBackoff;
  }

  /** The running process, if one is running (none while a restart waits). */
  get process(): ChildProcess | undefined {
    return this.#child;
  }

  /** Starts the first run. */
  start(): void {
    this.#run();
  }

  /**
   * Marks the current run as properly started (it said it is ready): from now on its ending is a
   * crash to restart from, not a start-up failure.
   */
  markStarted(): void {
    this.#everStarted = true;
  }

  /** Stops for good: cancels a pending restart, or asks the process to drain (SIGKILL after the timeout). */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.#options.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the process at once (the launcher itself is exiting). */
  kill(): void {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    if (this.#child && this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }

  #run(): void {
    const child = this.#options.spawn();
    this.#child = child;
    this.#startedAt = Date.now();
    child.once('exit', (code, signal) => {
      this.#child = undefined;
      if (this.#stopping) return;
      const reason = signal ?? `exit code ${code}`;
      if (!this.#everStarted) return this.#options.onStartFailure(reason);
      this.#delayMs = nextRestartDelay(this.#delayMs, Date.now() - this.#startedAt, this.#backoff);
      this.#restarts += 1;
      this.#options.log(
        `hopper: the ${this.#options.name} stopped unexpectedly (${reason}); restarting it in ` +
          `${formatSeconds(this.#delayMs)} (restart ${this.#restarts})`,
      );
      this.#restartTimer = setTimeout(() => this.#run(), this.#delayMs);
    });
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
