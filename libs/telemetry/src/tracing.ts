import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface TracingOptions {
  serviceName: string;
  serviceVersion: string;
  /**
   * Export spans over OTLP/HTTP. The exporter reads the standard `OTEL_EXPORTER_OTLP_*` variables
   * itself (endpoint, headers, protocol); the app decides whether to export at all.
   */
  export: boolean;
  /** Replaces the OTLP exporter (tests). */
  exporter?: SpanExporter;
}

export interface Tracing {
  tracer: Tracer;
  /** Whether spans go anywhere; when not, spans are no-ops and cost next to nothing. */
  enabled: boolean;
  /** Flushes what is buffered and stops exporting (part of the process's shutdown). */
  shutdown(): Promise<void>;
}

/**
 * Sets up OpenTelemetry tracing for one process: async-context propagation (so spans started in a
 * callback find their parent), W3C trace-context propagation (so a trace crosses the queue), and a
 * batching OTLP exporter when exporting is on. With exporting off, the API's no-op tracer is used.
 */
export function startTracing(options: TracingOptions): Tracing {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (!options.export && !options.exporter) {
    return {
      tracer: trace.getTracer(options.serviceName),
      enabled: false,
      shutdown: () => Promise.resolve(),
    };
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      [ATTR_SERVICE_VERSION]: options.serviceVersion,
    }),
    // Export every half second: traces show up promptly, and a short-lived CLI run loses little.
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: options.exporter ?? new OTLPTraceExporter(),
        scheduledDelayMillis: 500,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    tracer: provider.getTracer(options.serviceName, options.serviceVersion),
    enabled: true,
    shutdown: () => provider.shutdown(),
  };
}
