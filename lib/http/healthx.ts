import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { bearerMatches } from '../health/control-token.js';
import type { Health, Probe } from '../health/health.js';

const PROBES = new Set<string>(['startup', 'liveness', 'readiness']);
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * `GET /healthx/{startup,liveness,readiness}` → 200 or 503 with the report;
 * `POST /healthx/{probe}/{open,close}` flips the switch: loopback peers only,
 * or, when a control token is configured, any peer with that bearer token.
 */
export function healthx(health: Health, controlToken: string, logger: Logger): Middleware {
  const token = controlToken || undefined;
  return async function dionysusHealthx(ctx: Context, next: Next): Promise<void> {
    if (!ctx.path.startsWith('/healthx/')) return next();
    const [, , probe, action, extra] = ctx.path.split('/');
    if (!probe || !PROBES.has(probe) || extra !== undefined) {
      ctx.status = 404;
      ctx.body = {
        error: `unknown health route ${ctx.path}; use /healthx/startup, /healthx/liveness or /healthx/readiness`,
      };
      return;
    }
    if (action === undefined) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx, 'GET, HEAD');
      const report = await health.report(probe as Probe);
      ctx.status = report.status === 'pass' ? 200 : 503;
      ctx.set('cache-control', 'no-store');
      ctx.body = report;
      return;
    }
    if (action !== 'open' && action !== 'close') {
      ctx.status = 404;
      ctx.body = { error: `unknown switch action ${JSON.stringify(action)}; use open or close` };
      return;
    }
    if (ctx.method !== 'POST') return methodNotAllowed(ctx, 'POST');
    const peer = ctx.req.socket.remoteAddress ?? '';
    const refused = token ? !bearerMatches(ctx.get('authorization'), token) : !LOOPBACK.has(peer);
    if (refused) {
      logger.warn(
        { peer, probe, action, requestId: ctx.state.requestId },
        `refused health switch ${action} of ${probe}`,
      );
      ctx.status = 403;
      ctx.body = {
        error: token
          ? 'a valid bearer token is required to change health switches'
          : 'health switches accept loopback peers only',
      };
      return;
    }
    health.setSwitch(probe as Probe, action === 'open');
    logger.info({ peer, probe, action }, `health switch of ${probe} set to ${action}`);
    ctx.body = { probe, switch: health.switchOf(probe as Probe) };
  };
}

function methodNotAllowed(ctx: Context, allow: string): void {
  ctx.status = 405;
  ctx.set('allow', allow);
  ctx.body = { error: `method ${ctx.method} not allowed here; use ${allow}` };
}
