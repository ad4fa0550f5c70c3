import type { Metadata } from '@grpc/grpc-js';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const getter = {
  keys: (carrier: Metadata) => Object.keys(carrier.getMap()),
  get: (carrier: Metadata, key: string) => {
    const values = carrier.get(key);
    return values.length > 0 ? String(values[0]) : undefined;
  },
};

/**
 * Runs a call inside a server span, continuing the W3C trace context from its
 * metadata; returns what ends the span with the call's status code.
 */
export function traceCall(call: { metadata: Metadata }, path: string, run: () => void): (code: number) => void {
  // From the root, never from the context the server started in: each call is its own trace unless its metadata continues one.
  const parent = propagation.extract(ROOT_CONTEXT, call.metadata, getter);
  const [, service, method] = path.split('/');
  const span = trace
    .getTracer('dionysus')
    .startSpan(
      path.slice(1),
      { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method } },
      parent,
    );
  let ended = false;
  const end = (code: number): void => {
    if (ended) return;
    ended = true;
    span.setAttribute('rpc.grpc.status_code', code);
    if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  context.with(trace.setSpan(parent, span), run);
  return end;
}
