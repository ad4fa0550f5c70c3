import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { rawInfoWriter } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

/** What the per-request middleware needs; everything optional is off when absent. */
export interface ObserveOptions {
  readonly logger: Logger;
  readonly metrics: Metrics | undefined;
  /** 0 none, 1 every request. */
  readonly accessLogSampleRate: number;
  /** Set when the OpenTelemetry SDK is on. */
  readonly tracing: boolean;
  /** Read per request: when true, responses ask the client to close the connection. */
  readonly draining: () => boolean;
}

const REQUEST_ID = /^[\w.:/+=-]{1,128}$/;
/** Framework routes kept out of access logs and request metrics. */
const QUIET = /^\/(healthx(\/|$)|metrics$)/;

type Observe = (labels: string, seconds: number) => void;

/**
 * The first middleware of every request: request id, error mapping, access
 * log, metrics and span. It runs on the hot path, so metric children are
 * cached per label set and nothing is allocated for quiet routes.
 */
export function observe(options: ObserveOptions): Middleware {
  const { logger, metrics, accessLogSampleRate, draining } = options;
  const children = new Map<string, (seconds: number) => void>();
  const record: Observe | undefined = metrics
    ? (key, seconds) => {
        let observe = children.get(key);
        if (!observe) {
          const [method, route, status] = key.split(' ') as [string, string, string];
          observe = metrics.httpRequestDuration.bind({ method, route, status_code: status });
          children.set(key, observe);
        }
        observe(seconds);
      }
    : undefined;
  const trace = options.tracing ? (require('./trace.js') as typeof import('./trace.js')).traceRequest : undefined;
  // With tracing on, lines go through pino so its mixin adds the trace ids.
  const raw = options.tracing ? undefined : rawInfoWriter(logger);

  return async function dionysusObserve(ctx: Context, next: Next): Promise<void> {
    const start = performance.now();
    const incoming = ctx.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('x-request-id', requestId);
    try {
      // One async frame per request where tracing is off: handle() is awaited only inside a span.
      if (trace) await trace(ctx, () => handle(ctx, next, logger));
      else {
        try {
          await next();
        } catch (error) {
          failed(ctx, error, logger);
        }
        if (ctx.body === undefined && ctx.status >= 400) bodyForBareStatus(ctx);
      }
    } finally {
      // Decided when the response is about to be written, not when the request came in: a request in
      // flight when the drain starts must close its keep-alive connection too, and so must an answer
      // sent before the request body was read (413, an early 401), or the connection waits for a body
      // nobody reads; either way the drain would wait for that connection until the budget runs out.
      if (!ctx.headerSent && (draining() || !ctx.req.complete)) ctx.set('connection', 'close');
      if (!QUIET.test(ctx.path)) {
        const seconds = (performance.now() - start) / 1000;
        const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
        record?.(`${ctx.method} ${route} ${ctx.status}`, seconds);
        if (accessLogSampleRate >= 1 || (accessLogSampleRate > 0 && Math.random() < accessLogSampleRate)) {
          if (raw) {
            raw(
              `"requestId":${JSON.stringify(requestId)},"method":${JSON.stringify(ctx.method)},"route":${JSON.stringify(route)},"path":${JSON.stringify(ctx.path)},"status":${ctx.status},"durationMs":${seconds * 1000}`,
              'request',
            );
          } else {
            logger.info(
              { requestId, method: ctx.method, route, path: ctx.path, status: ctx.status, durationMs: seconds * 1000 },
              'request',
            );
          }
        }
      }
    }
  };
}

/** Maps errors to statuses and JSON bodies; internal messages and stacks never reach the client. */
async function handle(ctx: Context, next: Next, logger: Logger): Promise<void> {
  try {
    await next();
  } catch (error) {
    failed(ctx, error, logger);
  }
  if (ctx.body === undefined && ctx.status >= 400) bodyForBareStatus(ctx);
}

/** koa answers unmatched routes with a bare 404 (and the router with a bare 405): give them a body. */
function bodyForBareStatus(ctx: Context): void {
  const status = ctx.status;
  ctx.body = {
    error: status === 404 ? `no route for ${ctx.method} ${ctx.path}` : statusText(status),
    requestId: ctx.state.requestId,
  };
  // Setting a body turns koa's implicit 404 into 200; keep the status.
  ctx.status = status;
}

function failed(ctx: Context, error: unknown, logger: Logger): void {
  const { status, message } = classify(error);
  ctx.status = status;
  ctx.body = { error: message, requestId: ctx.state.requestId };
  if (status >= 500) {
    logger.error(
      { err: error, requestId: ctx.state.requestId, method: ctx.method, path: ctx.path },
      `request failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function classify(error: unknown): { status: number; message: string } {
  const e = error as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown } | null;
  const raw = e?.status ?? e?.statusCode;
  const status = typeof raw === 'number' && raw >= 400 && raw <= 599 ? raw : 500;
  const expose = e?.expose === true && typeof e.message === 'string';
  return { status, message: expose ? (e.message as string) : statusText(status) };
}

function statusText(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase();
}
