import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import { type AccessOptions, healthAccess } from '../health/access.js';
import { type Health, publicReport } from '../health/health.js';
import { isProbeName } from '../probe/files.js';

/**
 * `GET /healthx/{startup,liveness,readiness}` → 200 or 503 with the report
 * (checks' error messages only for trusted peers); `POST
 * /healthx/{probe}/{open,close}` flips the switch for trusted peers only
 * (see ../health/access.ts).
 */
export function healthx(health: Health, options: AccessOptions, logger: Logger): Middleware {
  const access = healthAccess(options);
  return async function dionysusHealthx(ctx: Context, next: Next): Promise<void> {
    if (!ctx.path.startsWith('/healthx/')) return next();
    const [, , probe, action, extra] = ctx.path.split('/');
    if (!isProbeName(probe) || extra !== undefined) {
      ctx.status = 404;
      ctx.body = {
        error: `unknown health route ${ctx.path}; use /healthx/startup, /healthx/liveness or /healthx/readiness`,
      };
      return;
    }
    if (action === undefined) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx, 'GET, HEAD');
      const report = await health.report(probe);
      ctx.status = report.status === 'pass' ? 200 : 503;
      ctx.set('cache-control', 'no-store');
      const trusted = access(ctx.get('authorization'), ctx.req.socket.remoteAddress ?? '').trusted;
      ctx.body = trusted ? report : publicReport(report);
      return;
    }
    if (action !== 'open' && action !== 'close') {
      ctx.status = 404;
      ctx.body = { error: `unknown switch action ${JSON.stringify(action)}; use open or close` };
      return;
    }
    if (ctx.method !== 'POST') return methodNotAllowed(ctx, 'POST');
    const peer = ctx.req.socket.remoteAddress ?? '';
    const allowed = access(ctx.get('authorization'), peer);
    if (!allowed.trusted) {
      logger.warn(
        { peer, probe, action, requestId: ctx.state.requestId },
        `refused health switch ${action} of ${probe}: ${allowed.reason}`,
      );
      ctx.status = 403;
      ctx.body = { error: allowed.reason };
      return;
    }
    health.setSwitch(probe, action === 'open');
    logger.info({ peer, probe, action }, `health switch of ${probe} set to ${action}`);
    ctx.body = { probe, switch: health.switchOf(probe) };
  };
}

function methodNotAllowed(ctx: Context, allow: string): void {
  ctx.status = 405;
  ctx.set('allow', allow);
  ctx.body = { error: `method ${ctx.method} not allowed here; use ${allow}` };
}
