import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa, { type Context, type Middleware } from 'koa';
import { bindConstant } from '../container/container.js';
import { DionysusError } from '../errors.js';
import { Health } from '../health/health.js';
import { RuntimeInfo } from '../health/runtime.js';
import type { FrameworkStep, StepContext } from '../lifecycle/lifecycle.js';
import type { RunContext, RunHandle, ServerRunner } from '../lifecycle/runner.js';
import type { ControllerPlan, RoutePlan } from '../plan/types.js';
import { Metrics } from '../telemetry/metrics.js';
import { Logger, TRACING_ON } from '../telemetry/tokens.js';
import { HttpError } from './errors.js';
import { healthx } from './healthx.js';
import { observe } from './observe.js';

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
}

/**
 * The http framework step (after metrics): the koa app and router exist
 * before PreRun, so hooks can inject `Koa` or `Router` to add middleware and
 * raw routes. Framework middleware comes first: observe (request id, errors,
 * access log, metrics, span), /healthx, the JSON body parser, then the
 * command's middleware.
 */
export function httpStep(): FrameworkStep {
  let unsubscribe: (() => void) | undefined;
  return {
    name: 'http',
    start(context: StepContext) {
      const { container, settings, command, events } = context;
      const logger = container.get(Logger) as unknown as import('pino').Logger;
      const drain = new DrainState();
      unsubscribe = events.on((event) => {
        if (event.type === 'state' && event.state === 'stopping') drain.draining = true;
      });
      const app = new Koa();
      app.silent = true; // errors are mapped and logged by observe()
      app.use(
        observe({
          logger,
          metrics: container.isBound(Metrics) ? container.get(Metrics) : undefined,
          accessLogSampleRate: settings.http.accessLogSampleRate,
          tracing: container.isBound(TRACING_ON),
          draining: () => drain.draining,
        }),
      );
      app.use(healthx(container.get(Health), settings.http.controlToken, logger));
      app.use(jsonBody(settings.http.bodyLimitBytes));
      for (const middleware of command.middleware) app.use(middleware as Middleware);
      bindConstant(container, Koa, app as never);
      bindConstant(container, Router, new Router());
      bindConstant(container, DrainState, drain);
    },
    stop() {
      unsubscribe?.();
    },
  };
}

/** Serves the koa app on node:http; drains on stop (see the lifecycle in the README). */
export function httpRunner(): ServerRunner {
  return {
    label: 'http server',
    async start(context: RunContext): Promise<RunHandle> {
      const { container, settings, command } = context;
      const app = container.get(Koa);
      const drain = container.get(DrainState);
      const logger = container.get(Logger);
      const routes = new Router();
      for (const controller of command.controllers)
        await mount(routes, controller, await container.getAsync(controller.cls));
      const raw = container.get(Router);
      app.use(routes.routes()).use(routes.allowedMethods());
      app.use(raw.routes()).use(raw.allowedMethods());

      const server = createServer(app.callback());
      server.keepAliveTimeout = settings.http.keepAliveTimeoutMs;
      server.headersTimeout = settings.http.headersTimeoutMs;
      server.requestTimeout = settings.http.requestTimeoutMs;
      const sockets = new Set<Socket>();
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      await listen(server, settings.http.port, settings.http.host);
      const port = (server.address() as AddressInfo).port;
      if (container.isBound(RuntimeInfo)) container.get(RuntimeInfo).set('http', { port });
      logger.info(
        { http: { host: settings.http.host, port } },
        `http server listening on ${settings.http.host}:${port}`,
      );

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
            logger.warn(
              { sockets: sockets.size },
              'shutdown budget spent: closing connections with requests in flight',
            );
            server.closeAllConnections();
          }
        },
        close() {
          drain.draining = true;
          if (server.listening) server.close();
          server.closeAllConnections();
        },
      };
    },
  };
}

async function mount(router: Router, controller: ControllerPlan, instance: unknown): Promise<void> {
  for (const route of controller.routes) {
    const handler = routeHandler(route, instance as Record<string, (ctx: Context) => unknown>);
    const chain = [...controller.middleware, ...route.middleware, handler] as Middleware[];
    router.register(route.path, [route.method], chain as never, { name: route.name });
  }
}

function routeHandler(route: RoutePlan, instance: Record<string, (ctx: Context) => unknown>): Middleware {
  return async (ctx) => {
    const result = await instance[route.handler]?.(ctx);
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
}

/** JSON bodies up to the limit; errors say what is wrong with the body, never a parser's internals. */
function jsonBody(limit: number): Middleware {
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: limit, encoding: 'utf-8' });
  return async (ctx, next) => {
    let parsed = false;
    try {
      await parse(ctx, async () => {
        parsed = true;
      });
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 413) throw new HttpError(413, `request body is larger than ${limit} bytes`);
      if (status === 415) throw new HttpError(415, 'unsupported content encoding');
      throw new HttpError(400, 'request body is not valid JSON');
    }
    if (parsed) await next();
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
