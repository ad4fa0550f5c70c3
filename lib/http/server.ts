import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Router from '@koa/router';
import type { Container } from 'inversify';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import compose from 'koa-compose';
import type { Token } from '../../decorators/inject.js';
import type { FrameworkSettings } from '../config/defaults.js';
import { listen } from '../config/listen.js';
import { bindConstant } from '../container/container.js';
import { DionysusError } from '../errors.js';
import type { Health } from '../health/health.js';
import { dialHost, type RuntimeInfo } from '../health/runtime.js';
import type { Component } from '../lifecycle/component.js';
import type { LifecycleEvents } from '../lifecycle/events.js';
import type { RunContext, RunHandle, ServerRunner } from '../lifecycle/runner.js';
import type { CommandPlan, ControllerPlan, RoutePlan } from '../plan/types.js';
import { withRequest } from '../telemetry/request-context.js';
import { Logger } from '../telemetry/tokens.js';
import { healthx } from './healthx.js';
import { type ObserveOptions, observe } from './observe.js';
import { routeArguments } from './params.js';

/** How often Node looks for requests past `headersTimeoutMs` / `requestTimeoutMs`. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

/**
 * Whether responses ask clients to close their connection; read by every
 * response. On from the stop signal, not only from the drain: kube-proxy
 * balances a ClusterIP per connection, so a keep-alive client keeps sending to
 * a pod that has left the endpoints. Told to close during the drain delay, it
 * reconnects to a pod that is still an endpoint; otherwise its connection
 * is still in use when the drain closes it, and the request written as the
 * server closes it fails with ECONNRESET (Go's Server.Shutdown turns
 * keep-alives off first for the same reason).
 */
class DrainState {
  draining = false;
  /** The route template of a path, once the runner has mounted the routes. */
  templateOf: (path: string, method: string) => string | undefined = () => undefined;
}

export interface HttpServerOptions {
  readonly settings: Pick<FrameworkSettings, 'http' | 'health'>;
  readonly command: CommandPlan;
  /** The logger, request metrics and tracing flag (telemetry implements it). */
  readonly observer: Pick<ObserveOptions, 'logger' | 'metrics' | 'tracing'>;
  readonly health: Health;
  /** Where the bound port is recorded for the probes; none in-memory. */
  readonly runtime: RuntimeInfo | undefined;
  readonly events: LifecycleEvents;
  /** Users' hooks inject `Koa` and `Router` from it; controllers are built from it. */
  readonly container: Container;
  /** Serve requests dispatched into `Koa#callback()` (the testing helpers), with no socket. */
  readonly inMemory: boolean;
  /** The command's OpenAPI document, built when `dionysus.http.openapi.path` is first asked for. */
  readonly openApiDocument: () => object;
}

/**
 * The http server as two parts of the lifecycle. The component `http` (a
 * framework part, before PreRun) makes the koa app and router, so hooks can
 * inject `Koa` or `Router` to add middleware and raw routes; the framework's
 * one middleware comes first (request id, errors, /healthx, the JSON body,
 * access log, metrics, span: observe()), then the command's middleware. The
 * runner mounts the controllers and serves the app on node:http; it drains
 * on stop (see the lifecycle in the README).
 */
export function httpServer(options: HttpServerOptions): { component: Component; runner: ServerRunner } {
  const { settings, command, observer, container, events } = options;
  const drain = new DrainState();
  const app = new Koa();
  const raw = new Router();
  let unsubscribe: (() => void) | undefined;
  const component: Component = {
    name: 'http',
    start() {
      documentRouteProblem(settings.http.openapi.path, command);
      const logger = observer.logger;
      unsubscribe = events.on((event) => {
        if (event.type === 'state' && event.state === 'stopping') drain.draining = true;
      });
      app.silent = true; // errors are mapped and logged by observe()
      app.use(
        observe({
          logger,
          metrics: observer.metrics,
          accessLogSampleRate: settings.http.accessLogSampleRate,
          tracing: observer.tracing,
          draining: () => drain.draining,
          healthx: healthx(
            options.health,
            { token: settings.http.controlToken, trustLoopback: settings.health.trustLoopback },
            logger,
          ),
          bodyLimitBytes: settings.http.bodyLimitBytes,
          requestContext: context.wholeRequest,
          templateOf: (path, method) => drain.templateOf(path, method),
        }),
      );
      for (const middleware of command.middleware) app.use(middleware as Middleware);
      bindConstant(container, Koa, app as never);
      bindConstant(container, Router, raw as never);
    },
    stop() {
      unsubscribe?.();
    },
  };
  const context = requestContextOf(command);
  const runner: ServerRunner = {
    label: 'http server',
    async start(run: RunContext): Promise<RunHandle> {
      const routes = new Router();
      for (const controller of command.controllers)
        await mount(routes, controller, await run.container.getAsync(controller.cls), context.logs(controller));
      const { path } = settings.http.openapi;
      if (path) routes.register(path, ['GET'], [documentRoute(options.openApiDocument)], { name: 'openapi' });
      app.use(controllerRoutes(routes)).use(routes.allowedMethods());
      app.use(raw.routes()).use(raw.allowedMethods());
      drain.templateOf = (path, method) => templateOf(routes, path, method) ?? templateOf(raw, path, method);
      if (options.inMemory) return inMemory(drain);
      return serve(app, drain, settings.http, observer.logger, options.runtime);
    },
  };
  return { component, runner };
}

/** Listens on `settings.port` and answers with the koa app until drained or closed. */
async function serve(
  app: Koa,
  drain: DrainState,
  settings: FrameworkSettings['http'],
  logger: ObserveOptions['logger'],
  runtime: RuntimeInfo | undefined,
): Promise<RunHandle> {
  const server = createServer(
    {
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      // Node checks the headers and request timeouts only this often (30 s by default), so a
      // short timeout would fire up to 30 s late.
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    app.callback(),
  );
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await listen(server, 'http', settings.port, settings.host);
  const { address, port } = server.address() as AddressInfo;
  runtime?.set('http', { host: dialHost(address), port });
  logger.info({ http: { host: settings.host, port } }, `http server listening on ${settings.host}:${port}`);

  const closed = new Promise<void>((resolve, reject) => {
    server.once('close', resolve);
    server.on('error', reject);
  });
  return {
    ended: closed,
    async drain(deadline: AbortSignal): Promise<void> {
      drain.draining = true;
      // Stop accepting; idle keep-alive sockets close now, busy ones after their response (Connection: close).
      server.close();
      server.closeIdleConnections();
      await Promise.race([
        closed.catch(() => undefined),
        new Promise<void>((resolve) => deadline.addEventListener('abort', () => resolve(), { once: true })),
      ]);
      // Only when the budget ran out: after a clean close a socket may still be in the set for a tick.
      if (deadline.aborted && sockets.size > 0) {
        logger.warn({ sockets: sockets.size }, 'shutdown budget spent: closing connections with requests in flight');
        server.closeAllConnections();
      }
    },
    close() {
      drain.draining = true;
      if (server.listening) server.close();
      server.closeAllConnections();
    },
  };
}

export { IN_MEMORY } from './in-memory.js';

/** A run that serves no socket: it ends when the lifecycle stops it. */
function inMemory(drain: DrainState): RunHandle {
  let stopped!: () => void;
  const ended = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  return {
    ended,
    async drain() {
      drain.draining = true;
      stopped();
    },
    close() {
      drain.draining = true;
      stopped();
    },
  };
}

/** A document path that no request could reach, or that a controller's route serves already: a config error. */
function documentRouteProblem(path: string, command: CommandPlan): void {
  if (!path) return;
  const key = 'dionysus.http.openapi.path';
  if (path === '/healthx' || path.startsWith('/healthx/')) {
    throw new DionysusError(
      'config',
      `${key} ${JSON.stringify(path)} is under /healthx, which the framework answers; choose another path`,
    );
  }
  for (const route of command.controllers.flatMap((c) => c.routes)) {
    if (route.method === 'GET' && route.path === path) {
      throw new DionysusError(
        'config',
        `${key} ${JSON.stringify(path)} is also GET ${route.path} of ${route.name}; choose another path for the document`,
      );
    }
  }
}

/** `GET <dionysus.http.openapi.path>`: the document, built and serialised at the first request only. */
function documentRoute(build: () => object): Middleware {
  let json: string | undefined;
  return (ctx) => {
    json ??= JSON.stringify(build());
    ctx.type = 'application/json';
    ctx.body = json;
  };
}

async function mount(router: Router, controller: ControllerPlan, instance: unknown, logs: boolean): Promise<void> {
  for (const route of controller.routes) {
    const handler = routeHandler(route, instance as Record<string, (ctx: Context) => unknown>);
    const chain = [...controller.middleware, ...route.middleware, handler] as Middleware[];
    // The controller (or what it reaches) logs: its routes run as the handling of their request.
    if (logs) chain.unshift(inRequestContext);
    router.register(route.path, [route.method], chain as never, { name: route.name });
  }
}

/**
 * Dispatches to the controllers' routes: @koa/router matches the path and
 * method and extracts the params, the chain of each route is composed once.
 * `router.routes()` composes a new chain on every request (and reads the Host
 * header for host matching, which controllers never use): ~0.6 µs of a
 * request that the HTTP throughput target (≥ 0.85× bare koa + @koa/router,
 * bench/http-throughput) cannot spare. For the same reason a route without
 * parameters is found by its exact path in a map, without testing every
 * route's pattern, when no route registered before it matches that path.
 * The context gets what `routes()` sets (`params`, `captures`, `matched`,
 * `_matchedRoute`…), so `allowedMethods()` and middleware written for
 * @koa/router work as before. Every controller layer ends in its route
 * handler, which never calls `next`: of several matching layers, only the
 * first one could answer, as with `routes()`.
 */
function controllerRoutes(router: Router): Middleware {
  type Layer = Router['stack'][number];
  type Chain = (ctx: Context, next: Next) => Promise<unknown>;
  type Routing = Context & {
    matched?: Layer[];
    captures?: string[];
    routerPath?: string;
    routerName?: string;
    _matchedRoute?: string;
    _matchedRouteName?: string;
  };
  const chains = new Map<Layer, Chain>();
  for (const layer of router.stack) chains.set(layer, compose(layer.stack as Middleware[]));
  // method → exact path → the layer `router.match` would pick first, and every layer matching the path.
  const exact = new Map<string, Map<string, { layer: Layer; matched: Layer[] }>>();
  for (const layer of router.stack) {
    const path = layer.path;
    if (typeof path !== 'string' || layer.paramNames.length > 0 || !layer.match(path)) continue;
    const matched = router.stack.filter((l) => l.match(path));
    for (const method of layer.methods) {
      if (matched.find((l) => l.methods.includes(method)) !== layer) continue;
      if (!exact.has(method)) exact.set(method, new Map());
      exact.get(method)?.set(path, { layer, matched });
    }
  }
  const enter = (ctx: Routing, layer: Layer, path: string, captures: string[], next: Next): Promise<unknown> => {
    ctx.captures = captures;
    ctx.params = (ctx.request as { params?: unknown }).params = layer.params(path, captures, ctx.params);
    ctx.routerPath = layer.path as string;
    ctx.routerName = layer.name || undefined;
    ctx._matchedRoute = layer.path as string;
    if (layer.name) ctx._matchedRouteName = layer.name;
    return (chains.get(layer) as Chain)(ctx, next);
  };
  return (ctx: Routing, next) => {
    const path = ctx.path;
    ctx.router = router;
    const hit = exact.get(ctx.method)?.get(path);
    if (hit) {
      if (ctx.matched) ctx.matched.push(...hit.matched);
      else ctx.matched = hit.matched.slice();
      ctx.routeMatched = true;
      return enter(ctx, hit.layer, path, [], next);
    }
    const found = router.match(path, ctx.method);
    if (ctx.matched) ctx.matched.push(...found.path);
    else ctx.matched = found.path;
    ctx.routeMatched = found.route;
    const layer = found.route ? found.pathAndMethod.find((l) => l.methods.length > 0) : undefined;
    if (!layer) return next();
    return enter(ctx, layer, path, layer.captures(path), next);
  };
}

/**
 * Calls the route's method and sets its result as the body. Not `async`: a
 * method that returns a plain value is answered without another promise
 * (see observe() for why that counts).
 */
function routeHandler(route: RoutePlan, instance: Record<string, (ctx: Context) => unknown>): Middleware {
  const respond = (ctx: Context, result: unknown): void => {
    if (result !== undefined) {
      ctx.body = result;
      if (route.status) ctx.status = route.status;
    } else if (ctx.body === undefined && !(ctx.response as { _explicitStatus?: boolean })._explicitStatus) {
      // koa would answer a silent 404: say what went wrong instead.
      throw new DionysusError(
        'internal',
        `${route.method} ${route.path}: ${route.name} set no body and no status; return a value or set ctx.body or ctx.status`,
      );
    }
  };
  const method = instance[route.handler] as ((...args: unknown[]) => unknown) | undefined;
  const answer = (ctx: Context, result: unknown): unknown => {
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
      return (result as PromiseLike<unknown>).then((value) => respond(ctx, value));
    respond(ctx, result);
    return undefined;
  };
  // A method without parameter decorators keeps the `(ctx)` signature.
  if (route.params.length === 0) return (ctx) => answer(ctx, method?.call(instance, ctx));
  const argumentsOf = routeArguments(route.params);
  return (ctx) => {
    const args = argumentsOf(ctx);
    if (Array.isArray(args)) return answer(ctx, method?.apply(instance, args));
    return args.then((list) => answer(ctx, method?.apply(instance, list)));
  };
}

/**
 * The template of the route that answers `path` for `method`, else of the
 * first route of that path with any method (a 405 or OPTIONS answer). Only
 * answers given without a route handler ask: a bad body, 405, 404.
 */
interface Matching {
  match(
    path: string,
    method: string,
  ): { path: { methods: string[]; path: unknown }[]; pathAndMethod: { methods: string[]; path: unknown }[] };
}

function templateOf(router: Matching, path: string, method: string): string | undefined {
  const found = router.match(path, method);
  const layer = found.pathAndMethod.find((l) => l.methods.length > 0) ?? found.path.find((l) => l.methods.length > 0);
  return typeof layer?.path === 'string' ? layer.path : undefined;
}

/** Runs the rest of a route's chain as the handling of its request: the lines it logs carry its id. */
const inRequestContext: Middleware = (ctx, next) => withRequest(ctx.state.requestId as string, next);

/**
 * Which requests run inside the request context (see lib/telemetry/request-context.ts: on Node 20
 * it costs every request handled while it is on). A request's handling can log with the injected
 * Logger when its controller, or something the controller reaches through constructors and
 * factories, injects it: those routes run inside it. When a class that can add middleware or raw
 * routes (it injects `Koa` or `Router`) reaches the Logger, every request does, from the first
 * middleware on.
 */
function requestContextOf(command: CommandPlan): { wholeRequest: boolean; logs(controller: ControllerPlan): boolean } {
  const deps = new Map<Token, readonly Token[]>(command.builds.map((b) => [b.token, b.deps]));
  const reaches = (from: Token): boolean => {
    const seen = new Set<Token>();
    const walk = (token: Token): boolean => {
      if (token === Logger) return true;
      if (seen.has(token)) return false;
      seen.add(token);
      return (deps.get(token) ?? []).some(walk);
    };
    return walk(from);
  };
  const wholeRequest = command.builds.some(
    (b) => (b.runtime ?? []).some((t) => t === Koa || t === Router) && reaches(b.token),
  );
  return { wholeRequest, logs: (controller) => !wholeRequest && reaches(controller.cls) };
}
