import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { round } from './stats.ts';

/** CPU and memory of one process over one measured step. */
export interface ProcessUsage {
  /** CPU time over wall time, in percent of one core (200 = both cores of this machine). */
  cpuPercent: number;
  /** Largest resident set seen during the step (sampled every 200 ms), in MB. */
  rssMaxMb: number;
}

const SAMPLE_MS = 200;
/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux almost always). */
const TICKS_PER_SECOND =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/**
 * Samples processes' CPU time and resident memory from /proc while a step runs (Linux only;
 * elsewhere, and for processes that have gone, the figures are absent).
 */
export class UsageSampler {
  readonly #pids: Map<string, number>;
  #startTicks = new Map<string, number>();
  #rssMax = new Map<string, number>();
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `pids`: a name for each process to watch (`gateway`, `worker`, `bench`, …). */
  constructor(pids: Record<string, number>) {
    this.#pids = new Map(Object.entries(pids));
  }

  start(): void {
    this.#startedAt = performance.now();
    this.#rssMax.clear();
    for (const [name, pid] of this.#pids) {
      const ticks = cpuTicks(pid);
      if (ticks !== undefined) this.#startTicks.set(name, ticks);
    }
    this.#sampleRss();
    this.#timer = setInterval(() => this.#sampleRss(), SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): Record<string, ProcessUsage> {
    clearInterval(this.#timer);
    this.#sampleRss();
    const seconds = (performance.now() - this.#startedAt) / 1000;
    const usage: Record<string, ProcessUsage> = {};
    for (const [name, pid] of this.#pids) {
      const before = this.#startTicks.get(name);
      const after = cpuTicks(pid);
      if (before === undefined || after === undefined) continue;
      usage[name] = {
        cpuPercent: round(((after - before) / TICKS_PER_SECOND / seconds) * 100, 1),
        rssMaxMb: round((this.#rssMax.get(name) ?? 0) / 1024, 1),
      };
    }
    return usage;
  }

  #sampleRss(): void {
    for (const [name, pid] of this.#pids) {
      const kb = rssKb(pid);
      if (kb !== undefined) this.#rssMax.set(name, Math.max(kb, this.#rssMax.get(name) ?? 0));
    }
  }
}

/**
 * Calls `exceeded` (once) when a process's resident memory passes `limitMb`, checking every
 * 200 ms until the returned function is called.
 */
export function watchMemory(
  pids: Record<string, number>,
  limitMb: number,
  exceeded: (name: string, rssMb: number) => void,
): () => void {
  const timer = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) {
      const mb = (rssKb(pid) ?? 0) / 1024;
      if (mb > limitMb) {
        clearInterval(timer);
        exceeded(name, Math.round(mb));
        return;
      }
    }
  }, SAMPLE_MS);
  timer.unref();
  return () => clearInterval(timer);
}

const SETTLE_WINDOW_MS = 300;
/** A process using less than this share of one core is idle for `waitUntilIdle`. */
const IDLE_SHARE = 0.1;

/**
 * Waits until the processes are idle together (under 10% of a core each over 300 ms), at
 * most `maxMs`; returns how long it waited. A server can still be working after a step's last
 * answer (a cut-off client does not stop a store query), and that work must not land in the
 * next step.
 */
export async function waitUntilIdle(pids: number[], maxMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < maxMs) {
    const before = pids.map(cpuTicks);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_WINDOW_MS));
    const busy = pids.some((pid, i) => {
      const [a, b] = [before[i], cpuTicks(pid)];
      return (
        a !== undefined &&
        b !== undefined &&
        (b - a) / TICKS_PER_SECOND > (IDLE_SHARE * SETTLE_WINDOW_MS) / 1000
      );
    });
    if (!busy) break;
  }
  return Math.round(performance.now() - started);
}

/** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis don't.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** CPU time (user and system) a process has used so far, in seconds; undefined when it has gone. */
export function cpuSeconds(pid: number): number | undefined {
  const ticks = cpuTicks(pid);
  return ticks === undefined ? undefined : ticks / TICKS_PER_SECOND;
}

/** Resident memory of a process in MB, whole; undefined when it has gone. */
export function rssMb(pid: number): number | undefined {
  const kb = rssKb(pid);
  return kb === undefined ? undefined : Math.round(kb / 1024);
}

/** The most resident memory a process has had in its life (VmHWM), in MB, whole. */
export function peakRssMb(pid: number): number | undefined {
  const kb = statusKb(pid, 'VmHWM');
  return kb === undefined ? undefined : Math.round(kb / 1024);
}

const rssKb = (pid: number) => statusKb(pid, 'VmRSS');

/** A field of /proc/<pid>/status given in kB; undefined when the process has gone. */
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`${field}:\\s+(\\d+)`).exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
