import { Controller, Get, HttpError, Post } from 'dionysus';
import type { Context } from 'koa';
import { Greeter } from '../greeter.js';

/** The routes code outside the repo relies on: /hello, /echo, /slow. */
@Controller()
export class GreetingController {
  constructor(private readonly greeter: Greeter) {}

  /** `GET /hello?name=x` → `{"message":"hello x"}`; name defaults to `world`. */
  @Get('/hello')
  hello(ctx: Context): { message: string } {
    const name = typeof ctx.query.name === 'string' && ctx.query.name !== '' ? ctx.query.name : 'world';
    return { message: this.greeter.greet(name) };
  }

  /** `POST /echo` → the JSON body it received. */
  @Post('/echo')
  echo(ctx: Context): unknown {
    const body = (ctx.request as { body?: unknown }).body;
    if (body === undefined) throw new HttpError(415, 'send a JSON body with content-type application/json');
    return body;
  }

  /** `GET /slow?ms=N` → 200 after N ms (for drain tests). */
  @Get('/slow')
  async slow(ctx: Context): Promise<{ sleptMs: number }> {
    const ms = Number(ctx.query.ms ?? 0);
    if (!Number.isFinite(ms) || ms < 0 || ms > 60_000) throw new HttpError(400, 'ms must be a number from 0 to 60000');
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { sleptMs: ms };
  }
}
