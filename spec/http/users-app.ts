import Router from '@koa/router';
import { Command, Controller, Get, HttpError, Main, Post, PreRun, ReadinessCheck } from 'dionysus';
import Koa, { type Context, type Next } from 'koa';

/** An in-memory store the controller gets by constructor injection. */
export class Users {
  readonly #users = new Map<string, { id: string; name: string }>([['1', { id: '1', name: 'ada' }]]);

  find(id: string): { id: string; name: string } | undefined {
    return this.#users.get(id);
  }

  add(user: { id: string; name: string }): void {
    if (this.#users.has(user.id)) throw new HttpError(409, `user ${user.id} exists already`);
    this.#users.set(user.id, user);
  }
}

/** A dependency the readiness check pings; a test makes it fail with `down`. */
export class Database {
  down = false;

  ping(): void {
    if (this.down) throw new Error('database unreachable');
  }
}

/** Middleware that records where it ran: the route returns the trail. */
export const mark =
  (name: string) =>
  async (ctx: Context, next: Next): Promise<void> => {
    ctx.state.trail = [...((ctx.state.trail as string[] | undefined) ?? []), name];
    await next();
  };

@Controller('/users', { middleware: [mark('controller')] })
export class UsersController {
  constructor(private readonly users: Users) {}

  @Get('/:id')
  get(ctx: Context): { id: string; name: string } {
    const user = this.users.find(ctx.params.id as string);
    if (!user) throw new HttpError(404, `no user ${ctx.params.id}`);
    return user;
  }

  @Post('', { status: 201 })
  create(ctx: Context): { id: string; name: string } {
    const user = ctx.request.body as { id: string; name: string };
    this.users.add(user);
    return user;
  }

  @Get('/:id/secret')
  secret(): never {
    throw new Error('connection to postgres://admin:hunter2@db failed');
  }

  @Get('/:id/forgotten')
  forgotten(_ctx: Context): void {
    // sets neither a body nor a status
  }

  @Get('/:id/route', {
    middleware: [
      async (ctx: Context, next: Next) => {
        // What middleware written for @koa/router reads.
        ctx.state.route = { params: { ...ctx.params }, routerPath: ctx.routerPath, matched: ctx._matchedRoute };
        await next();
      },
    ],
  })
  route(ctx: Context): unknown {
    return ctx.state.route;
  }

  @Get('/:id/trail', { middleware: [mark('route')] })
  trail(ctx: Context): { trail: string[] } {
    return { trail: ctx.state.trail as string[] };
  }
}

/** A second controller without middleware of its own. */
@Controller('/open')
export class OpenController {
  @Get('/trail')
  trail(ctx: Context): { trail: string[] } {
    return { trail: ctx.state.trail as string[] };
  }

  @Get('/:name')
  named(ctx: Context): { name: string } {
    return { name: ctx.params.name as string };
  }

  /** Never reached: `/:name`, declared first, matches `/open/late` too (as with @koa/router). */
  @Get('/late')
  late(): { late: true } {
    return { late: true };
  }
}

/** The escape hatch: the koa app and router are injectable before PreRun. */
@Command('http', { controllers: [UsersController, OpenController], middleware: [mark('app')] })
export class UsersHttpCommand {
  constructor(
    private readonly app: Koa,
    private readonly router: Router,
    private readonly database: Database,
  ) {}

  @PreRun()
  addRawRoutes(): void {
    this.app.use(async (ctx, next) => {
      await next();
      ctx.set('x-raw-middleware', 'ran');
    });
    this.router.get('/raw/ping', (ctx) => {
      ctx.body = { pong: true };
    });
  }

  @ReadinessCheck('database')
  databaseReachable(): void {
    this.database.ping();
  }
}

@Main({ name: 'users', commands: [UsersHttpCommand] })
export class UsersApp {}
