import {
  type Context,
  context,
  type ProxyTracerProvider,
  propagation,
  type Span,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { LifecycleEvent } from '../lifecycle/events.js';

export interface TracingOptions {
  app: string;
  version: string | undefined;
  command: string;
  /** Replaces the exporters OTEL_TRACES_EXPORTER picks (tests); spans are then exported one by one. */
  exporter?: SpanExporter;
  /** Registered with the SDK (`@Main({ telemetry: { instrumentations } })`). */
  instrumentations?: readonly Instrumentation[];
  /** Where OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER are looked up. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * OpenTelemetry's NodeSDK, loaded only when tracing is on, configured by the
 * standard environment: OTEL_TRACES_EXPORTER (otlp, console, none),
 * OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL (http/protobuf by default, grpc,
 * http/json) and _ENDPOINT, OTEL_TRACES_SAMPLER(_ARG), OTEL_PROPAGATORS,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, OTEL_NODE_RESOURCE_DETECTORS.
 * The app's name, version and command are the resource's defaults, which
 * those variables override. On top: a root span for the command run and a
 * child span per lifecycle hook. Metrics stay prom-client's (/metrics) and
 * logs pino's (stdout): the SDK exports them only when OTEL_METRICS_EXPORTER
 * or OTEL_LOGS_EXPORTER asks for it.
 */
export class Tracing {
  readonly #sdk: NodeSDK;
  readonly #root: Span;
  readonly #rootContext: Context;
  readonly #hooks = new Map<string, Span>();
  #closed = false;

  constructor(options: TracingOptions) {
    const env = options.env ?? process.env;
    const resource = defaultResource().merge(
      resourceFromAttributes({
        'service.name': options.app,
        ...(options.version ? { 'service.version': options.version } : {}),
        'dionysus.command': options.command,
      }),
    );
    this.#sdk = new NodeSDK({
      resource,
      instrumentations: [...(options.instrumentations ?? [])],
      // A given exporter belongs to the caller, who reads it after the run: shutting the SDK down must not clear it.
      ...(options.exporter ? { spanProcessors: [new SimpleSpanProcessor({ exporter: kept(options.exporter) })] } : {}),
      // The SDK's own defaults would export metrics and logs over OTLP too.
      ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
      ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    });
    this.#sdk.start();
    this.#root = trace.getTracer('dionysus').startSpan(`${options.app} ${options.command}`, {
      attributes: { 'dionysus.command': options.command },
    });
    this.#rootContext = trace.setSpan(context.active(), this.#root);
  }

  /** Runs a hook inside its own span, a child of the command's root span, so its logs carry the trace ids. */
  aroundHook<T>(hook: string, phase: string, fn: () => T): T {
    const span = trace
      .getTracer('dionysus')
      .startSpan(hook, { attributes: { 'dionysus.phase': phase } }, this.#rootContext);
    this.#hooks.set(`${phase}:${hook}`, span);
    return context.with(trace.setSpan(this.#rootContext, span), fn);
  }

  /** Ends hook spans from the event stream, also for hooks that timed out. */
  observe(event: LifecycleEvent): void {
    if (event.type === 'hook:end') {
      const key = `${event.phase}:${event.hook}`;
      const span = this.#hooks.get(key);
      if (!span) return;
      this.#hooks.delete(key);
      if (event.outcome !== 'ok') {
        span.setStatus({ code: SpanStatusCode.ERROR, message: event.error?.message ?? event.outcome });
        if (event.error) span.recordException(event.error);
      }
      span.end();
    } else if (event.type === 'signal') {
      this.#root.addEvent('signal', { signal: event.signal, forced: event.forced });
    }
  }

  /** Ends the root span and exports everything; the SDK's globals are released. */
  async close(failed: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const span of this.#hooks.values()) span.end();
    if (failed) this.#root.setStatus({ code: SpanStatusCode.ERROR });
    this.#root.end();
    try {
      // A flush first: shutting a SimpleSpanProcessor down leaves exports that wait for the resource's
      // asynchronous attributes (the host detector's) pending. Then the exporters stop (a given one is kept).
      const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as {
        forceFlush?: () => Promise<void>;
      };
      await provider.forceFlush?.();
      await this.#sdk.shutdown();
    } finally {
      trace.disable();
      propagation.disable();
      context.disable();
    }
  }
}

/** The ids of the active span, for log lines; empty when none is recording. */
export function activeTraceIds(): object {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
}

/** The exporter with its shutdown left out: an InMemorySpanExporter clears its spans when shut down. */
function kept(exporter: SpanExporter): SpanExporter {
  return {
    export: (spans, done) => exporter.export(spans, done),
    shutdown: async () => {},
    forceFlush: async () => exporter.forceFlush?.(),
  };
}
