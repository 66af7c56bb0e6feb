import type { Logger } from '@hopper/lifecycle';
import type { Metrics } from '@hopper/telemetry';
import type { CallContext, ToolHandlers } from '@hopper/contracts';

export interface InstrumentOptions {
  metrics: Pick<Metrics, 'operationDuration' | 'slowCalls'>;
  logger: Logger;
  /** Calls slower than this are logged as a warning (with the trace id, via the logger) and counted. */
  slowCallMs: number;
}

/**
 * Records one finished tool call: the duration histogram by tool and outcome, and a warning for a
 * call over the latency threshold. `started` is `performance.now()` when the call began.
 */
export type RecordCall = (
  tool: string,
  call: Pick<CallContext, 'background'>,
  started: number,
  outcome: 'ok' | 'error',
) => void;

export function callRecorder(options: InstrumentOptions): RecordCall {
  const { metrics, logger, slowCallMs } = options;
  return (tool, call, started, outcome) => {
    const ms = performance.now() - started;
    metrics.operationDuration.observe({ tool, outcome }, ms / 1000);
    if (ms > slowCallMs && !call.background) {
      metrics.slowCalls.inc({ tool });
      logger.warn({ tool, durationMs: Math.round(ms), outcome, thresholdMs: slowCallMs }, 'slow tool call');
    }
  };
}

/**
 * Times every tool call, whichever protocol carried it, cache included (the MCP fast path records
 * its hits with the same `callRecorder`).
 */
export function instrumentHandlers(handlers: ToolHandlers, options: InstrumentOptions): ToolHandlers {
  const record = callRecorder(options);
  return Object.fromEntries(
    Object.entries(handlers).map(([tool, handler]) => {
      const run = handler as (input: unknown, call: CallContext) => Promise<object>;
      const instrumented = async (input: unknown, call: CallContext) => {
        const started = performance.now();
        let outcome: 'ok' | 'error' = 'error';
        try {
          const output = await run(input, call);
          outcome = 'ok';
          return output;
        } finally {
          record(tool, call, started, outcome);
        }
      };
      return [tool, instrumented];
    }),
  ) as ToolHandlers;
}
