import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import type { Logger } from 'pino';
import { messageOf } from '../errors.js';
import { errorField, rawInfoWriter } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { withRequest } from '../telemetry/request-context.js';
import { HttpError } from './errors.js';

/** What the framework middleware needs; everything optional is off when absent. */
export interface ObserveOptions {
  readonly logger: Logger;
  readonly metrics: Metrics | undefined;
  /** 0 none, 1 every request. */
  readonly accessLogSampleRate: number;
  /** Whether handlers run as the handling of their request, so the lines they log carry its id. */
  readonly requestContext: boolean;
  /** Set when the OpenTelemetry SDK is on. */
  readonly tracing: boolean;
  /** Read per request: when true, responses ask the client to close the connection. */
  readonly draining: () => boolean;
  /** Serves `/healthx/…` (lib/http/healthx.ts). */
  readonly healthx: Middleware;
  /** JSON request bodies larger than this get 413. */
  readonly bodyLimitBytes: number;
  /**
   * The route template a path belongs to, whatever the method, for answers
   * given before or without a route handler (a bad body, 405, OPTIONS).
   */
  readonly templateOf: (path: string, method: string) => string | undefined;
}

const REQUEST_ID = /^[\w.:/+=-]{1,128}$/;
/** Framework routes kept out of access logs and request metrics (matched on the raw url, query included). */
const QUIET = /^\/(?:healthx(?:[/?]|$)|metrics(?:\?|$))/;
/** What the body parser reads; other methods never have a body parsed, as with @koa/bodyparser. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** @koa/bodyparser's JSON types: other bodies are left unread, `ctx.request.body` undefined. */
const JSON_TYPES = [
  'application/json',
  'application/json-patch+json',
  'application/vnd.api+json',
  'application/csp-report',
  'application/reports+json',
  'application/scim+json',
];

/**
 * The one framework middleware of every request, ahead of the command's own:
 * request id, error mapping, `/healthx`, the JSON body, then the access log
 * line, metrics and span once the response is decided.
 *
 * One function rather than a middleware per concern, and no `async` frame
 * where tracing is off: every middleware and every awaited promise costs a
 * request about as much as the work itself, and the HTTP throughput target
 * (≥ 0.85× bare koa + @koa/router, bench/http-throughput) leaves the whole
 * framework ~3 µs of a request.
 */
export function observe(options: ObserveOptions): Middleware {
  const { logger, metrics, accessLogSampleRate, draining, healthx, requestContext } = options;
  const parse = jsonBody(options.bodyLimitBytes);
  // route → method → status → histogram child: route and method strings are the same objects on every
  // request, so each lookup reuses their cached hash; a composed key would be built and hashed each time.
  const children = new Map<string, Map<string, Map<number, (seconds: number) => void>>>();
  const record = metrics
    ? (method: string, route: string, status: number, seconds: number): void => {
        let byMethod = children.get(route);
        if (!byMethod) children.set(route, (byMethod = new Map()));
        let byStatus = byMethod.get(method);
        if (!byStatus) byMethod.set(method, (byStatus = new Map()));
        let observe = byStatus.get(status);
        if (!observe) {
          observe = metrics.httpRequestDuration.bind({ method, route, status_code: String(status) });
          byStatus.set(status, observe);
        }
        observe(seconds);
      }
    : undefined;
  // With tracing on, lines go through pino so its mixin adds the trace ids.
  const raw = options.tracing ? undefined : rawInfoWriter(logger, 'request');
  const logAll = accessLogSampleRate >= 1;
  const logSome = accessLogSampleRate > 0;

  /** Health routes, the body, then the rest of the chain; a synchronous throw becomes a rejection. */
  const guarded = (ctx: Context, next: Next): Promise<void> => {
    try {
      const req = ctx.req;
      if (req.url?.startsWith('/healthx/')) return healthx(ctx, next) as Promise<void>;
      const handle = (): Promise<void> => (BODY_METHODS.has(req.method as string) ? parse(ctx, next) : next());
      // The handler runs as the handling of this request: the lines it logs carry its id.
      return requestContext ? withRequest(ctx.state.requestId as string, handle) : handle();
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const trace = options.tracing ? (require('./trace.js') as typeof import('./trace.js')).traceRequest : undefined;

  /** After the response is decided, before koa writes it (a stream: once it is written or failed). */
  // Decided when the response is about to be written, not when the request came in: a request in
  // flight when the drain starts must close its keep-alive connection too, and so must an answer
  // sent before the request body was read (413, an early 401), or the connection waits for a body
  // nobody reads; either way the drain would wait for that connection until the budget runs out.
  const closeWhenDone = (ctx: Context): void => {
    if (!ctx.res.headersSent && (draining() || !ctx.req.complete)) ctx.res.setHeader('connection', 'close');
  };

  const finish = (ctx: Context, start: number, requestId: string, failedStatus?: number): void => {
    const { req, res } = ctx;
    closeWhenDone(ctx);
    if (isQuiet(req.url as string)) return;
    const ms = performance.now() - start;
    // Microsecond precision: a shorter number, and ~0.1 µs less to format than all 17 digits.
    const durationMs = Math.round(ms * 1000) / 1000;
    const method = req.method as string;
    const route =
      (ctx as { _matchedRoute?: string })._matchedRoute ?? options.templateOf(ctx.path, method) ?? 'unmatched';
    const status = failedStatus ?? res.statusCode;
    record?.(method, route, status, ms / 1000);
    if (logAll || (logSome && Math.random() < accessLogSampleRate)) {
      if (raw) {
        // The request id (a UUID or REQUEST_ID) and the method (an HTTP token) need no escaping.
        raw(
          `"requestId":"${requestId}","method":"${method}","route":${JSON.stringify(route)},"path":${JSON.stringify(ctx.path)},"status":${status},"durationMs":${durationMs}`,
        );
      } else {
        logger.info({ requestId, method, route, path: ctx.path, status, durationMs }, 'request');
      }
    }
  };

  /**
   * The handler's answer made ready to write: a JSON body is serialised here,
   * not by koa, so a body that cannot be (a BigInt, a cycle, too deep) is a
   * mapped 500 like any other failure; a stream body is piped here, so one
   * that fails is logged and counted. Resolves to the status to record when
   * it differs from the one sent (a stream that failed after its headers).
   */
  const answered = (ctx: Context): Promise<number | undefined> | undefined => {
    bareStatus(ctx);
    const body = ctx.body;
    if (body === null || typeof body !== 'object' || Buffer.isBuffer(body)) return undefined;
    if (typeof (body as Readable).pipe === 'function') {
      closeWhenDone(ctx); // its headers go out before finish() runs
      return pipeBody(ctx, body as Readable, logger);
    }
    // Web streams, Blobs and Responses are left to koa.
    if (body instanceof ReadableStream || body instanceof Blob || body instanceof Response) return undefined;
    let json: string | undefined;
    try {
      json = JSON.stringify(body);
    } catch (error) {
      failed(
        ctx,
        new Error(`the response body cannot be serialised as JSON: ${messageOf(error)}`, { cause: error }),
        logger,
      );
      return undefined;
    }
    if (json === undefined) failed(ctx, new Error('the response body serialises to nothing as JSON'), logger);
    // The type stays the JSON one koa set for the object.
    else ctx.body = json;
    return undefined;
  };

  return function dionysusRequest(ctx: Context, next: Next): Promise<void> {
    const start = performance.now();
    const incoming = ctx.req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.res.setHeader('x-request-id', requestId);
    // Health and metrics traffic (kubelet probes every few seconds) makes no spans.
    if (trace && !isQuiet(ctx.req.url as string)) {
      let failedStatus: number | undefined;
      const handled = (): Promise<void> =>
        guarded(ctx, next).then(
          () => {
            const streaming = answered(ctx);
            if (streaming)
              return streaming.then((status) => {
                failedStatus = status;
              });
          },
          (error: unknown) => failed(ctx, error, logger),
        );
      return trace(ctx, handled, () => {
        finish(ctx, start, requestId, failedStatus);
        return failedStatus ?? ctx.res.statusCode;
      });
    }
    // One promise reaction per request: errors mapped and the request finished in the same step.
    return guarded(ctx, next).then(
      () => {
        const streaming = answered(ctx);
        if (streaming) return streaming.then((status) => finish(ctx, start, requestId, status));
        finish(ctx, start, requestId);
      },
      (error: unknown) => {
        failed(ctx, error, logger);
        finish(ctx, start, requestId);
      },
    );
  };
}

/** The framework's own routes (health, metrics): no access log line, no request metrics, no span. */
function isQuiet(url: string): boolean {
  // Only /h… and /m… can be quiet: most requests skip the pattern.
  return (url.charCodeAt(1) === 104 || url.charCodeAt(1) === 109) && QUIET.test(url);
}

/** koa answers unmatched routes with a bare 404 (and the router with a bare 405): give them a body. */
function bareStatus(ctx: Context): void {
  const status = ctx.res.statusCode;
  if (status < 400 || ctx.body !== undefined) return;
  ctx.body = {
    error: status === 404 ? `no route for ${ctx.method} ${ctx.path}` : statusText(status),
    requestId: ctx.state.requestId,
  };
  // Setting a body turns koa's implicit 404 into 200; keep the status.
  ctx.status = status;
}

/** Maps errors to statuses and JSON bodies; internal messages and stacks never reach the client. */
function failed(ctx: Context, error: unknown, logger: Logger): void {
  const { status, message } = classify(error);
  // A failed answer replaces whatever the handler had set (a half-built body, its content type).
  ctx.body = {
    error: message,
    requestId: ctx.state.requestId,
    ...(error instanceof HttpError ? error.publicFields() : {}),
  };
  ctx.status = status;
  if (status >= 500) {
    logger.error(
      { err: errorField(error), requestId: ctx.state.requestId, method: ctx.method, path: ctx.path },
      `request failed: ${messageOf(error)}`,
    );
  }
}

/**
 * Only the framework's HttpError and koa's own (`ctx.throw`, http-errors)
 * choose the status and what the client reads. Any other error is a 500,
 * whatever it carries: a downstream client's error with `status: 401` or
 * `expose: true` must not answer 401 or show its message (a connection
 * string, a host) to the caller.
 */
function classify(error: unknown): { status: number; message: string } {
  if (error instanceof HttpError || isKoaHttpError(error)) {
    const { status, expose, message } = error as { status: number; expose: boolean; message: string };
    const code = status >= 400 && status <= 599 ? status : 500;
    return { status: code, message: expose ? message : statusText(code) };
  }
  return { status: 500, message: statusText(500) };
}

/**
 * An error made by koa's `ctx.throw` / http-errors, by its prototype: koa 3
 * makes `instanceof HttpError` true for any Error whose `status` equals its
 * `statusCode` and has a boolean `expose`, which a client library's error can.
 */
function isKoaHttpError(error: unknown): boolean {
  return Function.prototype[Symbol.hasInstance].call(Koa.HttpError, error);
}

/**
 * Writes a stream body. koa's pipeline would destroy the connection on a
 * stream error, before any answer and without a log line; here a stream that
 * fails before its first byte gets the mapped JSON 500, one that fails later
 * ends the connection (the client sees a truncated answer), and both are
 * logged with the stack and counted as 500.
 */
function pipeBody(ctx: Context, body: Readable, logger: Logger): Promise<number | undefined> | undefined {
  const { res } = ctx;
  // HEAD and bodiless statuses: koa answers them without the body (and destroys the stream).
  if (ctx.method === 'HEAD' || ctx.status === 204 || ctx.status === 304) return undefined;
  ctx.respond = false;
  return new Promise((resolve) => {
    let failure: number | undefined;
    body.once('error', (error: Error) => {
      failure = 500;
      body.unpipe(res);
      if (res.headersSent) {
        logger.error(
          { err: errorField(error), requestId: ctx.state.requestId, method: ctx.method, path: ctx.path },
          `request failed: the response stream failed after its headers were sent: ${messageOf(error)}`,
        );
        res.destroy();
        resolve(failure);
        return;
      }
      for (const name of res.getHeaderNames())
        if (name !== 'x-request-id' && name !== 'connection') res.removeHeader(name);
      failed(ctx, error, logger);
      const json = JSON.stringify(ctx.body);
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader('content-length', Buffer.byteLength(json));
      res.end(json);
    });
    // A client that leaves early: stop reading the source.
    res.once('close', () => {
      if (!body.destroyed) body.destroy();
      resolve(failure);
    });
    res.statusCode = ctx.status;
    body.pipe(res);
  });
}

function statusText(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase();
}

/**
 * JSON bodies up to the limit; errors say what is wrong with the body, never a
 * parser's internals. A request without a JSON body keeps `ctx.request.body`
 * undefined (@koa/bodyparser would set `{}`, which a handler cannot tell
 * from an empty JSON object), so the handler can answer 415. The parser and its dependencies (~2 MB of heap) load
 * with the first request that may carry a body: a GET-only service never
 * pays for them, and a smaller heap is a faster one (bench/http-throughput).
 *
 * The parser is co-body's JSON one, which @koa/bodyparser wraps: the wrapper
 * checked the content type a second time and added two async frames, ~2 µs
 * of a validated POST (bench/validation, target ≥ 0.9× bare koa + @koa/bodyparser).
 * Only its JSON module: co-body's index loads its form and text parsers too (~2 MB more heap).
 */
function jsonBody(limit: number): (ctx: Context, next: Next) => Promise<void> {
  let json: ((ctx: Context, options: object) => Promise<{ parsed: unknown; raw: string }>) | undefined;
  // Any JSON value is a valid body (RFC 8259): null, 42 and "s" too, not only objects and arrays.
  const options = { limit, strict: false, returnRawBody: true, encoding: 'utf-8' };
  const parsed = (ctx: Context, next: Next, body: { parsed: unknown; raw: string }): Promise<void> => {
    const request = ctx.request as { body?: unknown; rawBody?: string };
    // A chunked body that turned out empty: no body, as with content-length 0.
    request.body = body.raw === '' ? undefined : body.parsed;
    request.rawBody ??= body.raw;
    return next();
  };
  return (ctx, next) => {
    // No body at all (content-length 0): nothing to parse, `ctx.request.body` stays undefined.
    if (ctx.req.headers['content-length'] === '0' || !ctx.is(JSON_TYPES)) return next();
    if (ctx.req.closed) {
      // Its client is gone: nobody reads the answer, and the access log says why (as @koa/bodyparser does).
      ctx.status = 499;
      ctx.body = 'Request already closed';
      return Promise.resolve();
    }
    json ??= require('co-body/lib/json') as typeof import('co-body').json;
    return json(ctx, options).then(
      (body) => parsed(ctx, next, body),
      (error: unknown) => {
        const status = (error as { status?: number }).status;
        if (status === 413) throw new HttpError(413, `request body is larger than ${limit} bytes`);
        if (status === 415) throw new HttpError(415, 'unsupported content encoding');
        throw new HttpError(400, 'request body is not valid JSON');
      },
    );
  };
}
