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
 * Times every tool call, whichever protocol carried it, cache included: the duration histogram by
 * tool and outcome, and a warning for each call over the latency threshold.
 */
export function instrumentHandlers(handlers: ToolHandlers, options: InstrumentOptions): ToolHandlers {
  const { metrics, logger, slowCallMs } = options;
  return Object.fromEntries(
    Object.entries(handlers).map(([tool, handler]) => {
      const run = handler as (input: unknown, call: CallContext) => Promise<object>;
      const instrumented = async (input: unknown, call: CallContext) => {
        const started = performance.now();
        let outcome = 'error';
        try {
          const output = await run(input, call);
          outcome = 'ok';
          return output;
        } finally {
          const ms = performance.now() - started;
          metrics.operationDuration.observe({ tool, outcome }, ms / 1000);
          if (ms > slowCallMs && !call.background) {
            metrics.slowCalls.inc({ tool });
            logger.warn(
              { tool, durationMs: Math.round(ms), outcome, thresholdMs: slowCallMs },
              'slow tool call',
            );
          }
        }
      };
      return [tool, instrumented];
    }),
  ) as ToolHandlers;
}
