export { createMetrics, type Metrics } from './metrics.ts';
export { serveMetrics } from './metrics-server.ts';
export { timeRedisCommands } from './redis-timing.ts';
export { currentTraceCarrier, inSpan, traceIds, withTraceCarrier } from './spans.ts';
export { traced } from './traced.ts';
export { startTracing, type Tracing, type TracingOptions } from './tracing.ts';
