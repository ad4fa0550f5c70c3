import { type Context, context, propagation, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import type { LifecycleEvent } from '../lifecycle/events.js';

export interface TracingOptions {
  app: string;
  version: string | undefined;
  command: string;
  /** Replaces the OTLP/HTTP exporter (tests); spans are then exported one by one. */
  exporter?: SpanExporter;
}

/**
 * The OpenTelemetry SDK, loaded only when tracing is on: a tracer provider
 * with the app's resource, W3C trace-context propagation, OTLP/HTTP export
 * (configured by the standard OTEL_EXPORTER_OTLP_* variables), a root span
 * for the command run and a child span per lifecycle hook.
 */
export class Tracing {
  readonly #provider: TracerProvider;
  readonly #root: Span;
  readonly #rootContext: Context;
  readonly #hooks = new Map<string, Span>();
  /** A given exporter belongs to the caller, who reads it after the run: it is flushed, never shut down. */
  readonly #ownsExporter: boolean;
  #closed = false;

  constructor(options: TracingOptions) {
    const resource = detectResources({ detectors: [envDetector] }).merge(
      resourceFromAttributes({
        'service.name': process.env.OTEL_SERVICE_NAME || options.app,
        ...(options.version ? { 'service.version': options.version } : {}),
        'dionysus.command': options.command,
        'process.pid': process.pid,
      }),
    );
    const processor = options.exporter
      ? new SimpleSpanProcessor({ exporter: options.exporter })
      : new BatchSpanProcessor({ exporter: new OTLPTraceExporter() });
    this.#ownsExporter = !options.exporter;
    this.#provider = new TracerProvider({ resource, spanProcessors: [processor] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    trace.setGlobalTracerProvider(this.#provider);
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
      await this.#provider.forceFlush();
      // Shutting down would clear an InMemorySpanExporter before the test reads it.
      if (this.#ownsExporter) await this.#provider.shutdown();
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
