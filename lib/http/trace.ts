import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context } from 'koa';

/**
 * Runs a request inside a server span: a new trace, or the caller's when it
 * sends W3C trace context. Never a child of whatever context the server was
 * started in (the server-start hook's span), or every request of a process
 * would share one trace. `after` (the access log line) runs inside the span,
 * so its trace ids are the request's, and returns the status it recorded.
 */
export async function traceRequest(ctx: Context, next: () => Promise<void>, after: () => number): Promise<void> {
  const parent = propagation.extract(ROOT_CONTEXT, ctx.headers);
  const span = trace
    .getTracer('dionysus')
    .startSpan(
      `${ctx.method}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': ctx.method, 'url.path': ctx.path } },
      parent,
    );
  const active = trace.setSpan(parent, span);
  try {
    await context.with(active, next);
  } finally {
    const route = (ctx as { _matchedRoute?: string })._matchedRoute;
    if (route) {
      span.updateName(`${ctx.method} ${route}`);
      span.setAttribute('http.route', route);
    }
    try {
      const status = context.with(active, after);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    } finally {
      span.end();
    }
  }
}
