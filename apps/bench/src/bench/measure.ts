import { closedLoop, type Caller, type StepPlan, type StepResult } from '../load/load-generator.ts';
import { UsageSampler, waitUntilIdle, warningsOf, watchMemory, type ProcessUsage } from '@hopper/harness';

/** Who answered a step: Hopper, one of its peers, or Hopper in another configuration. */
export type Target =
  | 'hopper'
  | 'hopper (SDK path)'
  | 'plain-sdk'
  | 'plain-sdk-fixed'
  | 'ceiling'
  | 'hopper (tracing on)'
  | 'hopper (SDK client)';

/** One measured step of a scenario. */
export interface Measurement extends StepResult {
  target: Target;
  /** What varies within the scenario besides the clients (`topK 50`, `100 KB`); absent if nothing. */
  variant?: string;
  /** CPU and peak memory of each process during the step (gateway, worker, redis, peer, bench). */
  usage: Record<string, ProcessUsage>;
  /** Warnings and errors the server's processes logged during the step, by message. */
  warnings: Record<string, number>;
  /** How long the step waited for the server's processes to go idle before it started. */
  settleMs: number;
  /** Why the step was cut short, if it was (a server process outgrowing the memory limit). */
  stopped?: string;
  /**
   * Commands Hopper's Redis ran during the measured window per successful call (every client of
   * that Redis: gateways, worker, the bench's own two `INFO` reads), when the bench counts them.
   */
  redisCommandsPerCall?: number;
}

/** The longest a step waits for the server to finish earlier work. */
const SETTLE_MAX_MS = 60_000;

/**
 * Runs one step, once the processes named in `pids` are idle, and samples them over its measured
 * window. A process outgrowing `plan.memoryLimitMb` ends the step early (`stopped` says so).
 */
export async function measure(
  target: Target,
  plan: StepPlan,
  open: () => Caller | Promise<Caller>,
  pids: Record<string, number>,
  variant?: string,
  redisCommands?: () => Promise<number>,
): Promise<Measurement> {
  const settleMs = await waitUntilIdle(Object.values(pids), SETTLE_MAX_MS);
  const caller = await open();
  try {
    const sampler = new UsageSampler({ ...pids, bench: process.pid });
    const start = setTimeout(() => sampler.start(), plan.warmupMs);
    // Read on timers at the window's edges, as the CPU figures are.
    let commands: [Promise<number>?, Promise<number>?] = [];
    const commandTimers = redisCommands
      ? [
          setTimeout(() => (commands = [redisCommands().catch(() => NaN)]), plan.warmupMs),
          setTimeout(
            () => (commands = [commands[0], redisCommands().catch(() => NaN)]),
            plan.warmupMs + plan.durationMs,
          ),
        ]
      : [];
    const before = Object.values(pids).map(warningsOf);
    const stop = new AbortController();
    let stopped: string | undefined;
    const unwatch = watchMemory(pids, plan.memoryLimitMb, (name, rssMb) => {
      stopped = `${name} RSS reached ${rssMb} MB (limit ${plan.memoryLimitMb} MB)`;
      stop.abort();
    });
    const result = await closedLoop(plan, caller.call, stop.signal);
    unwatch();
    clearTimeout(start);
    for (const timer of commandTimers) clearTimeout(timer);
    const usage = sampler.stop();
    const [atStart, atEnd] = [await commands[0], await commands[1]];
    const redisCommandsPerCall =
      atStart !== undefined && atEnd !== undefined && result.requests > 0 && !Number.isNaN(atEnd - atStart)
        ? Math.round(((atEnd - atStart) / result.requests) * 100) / 100
        : undefined;
    const warnings: Record<string, number> = {};
    for (const [i, pid] of Object.values(pids).entries()) {
      for (const [message, count] of warningsOf(pid)) {
        const added = count - (before[i]?.get(message) ?? 0);
        if (added > 0) warnings[message] = (warnings[message] ?? 0) + added;
      }
    }
    return {
      target,
      ...(variant === undefined ? {} : { variant }),
      ...result,
      usage,
      warnings,
      settleMs,
      ...(stopped === undefined ? {} : { stopped }),
      ...(redisCommandsPerCall === undefined ? {} : { redisCommandsPerCall }),
    };
  } finally {
    await caller.close();
  }
}
