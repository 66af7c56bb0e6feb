import { pino, type Logger } from 'pino';
import { traceIds } from '@hopper/telemetry';

/**
 * JSON logs to stdout, one line per event, with the service name on every line and the trace and
 * span ids of the active span (if any), so a log line leads to its trace.
 */
export function createLogger(service: string, level: string): Logger {
  return pino({ level, base: { service, pid: process.pid }, mixin: () => traceIds() });
}

export type { Logger };
