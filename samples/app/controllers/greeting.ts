import { Body, Controller, Get, HttpError, type Infer, Post, Query } from 'dionysus';
import { z } from 'zod';
import { Greeter } from '../greeter.js';

const Greeting = z.object({ message: z.string() });
/** `?ms=`: how long /slow waits, up to a minute; none means 0. */
const SleepMs = z.number().min(0).max(60_000).default(0);
const Slept = z.object({ sleptMs: z.number() });

/**
 * The routes code outside the repo relies on: /hello, /echo, /slow. Listed
 * lazily by the http command (controllers/index.ts), so this module and zod
 * load only when it runs.
 */
@Controller()
export class GreetingController {
  constructor(private readonly greeter: Greeter) {}

  /**
   * `GET /hello?name=x` → `{"message":"hello x"}`; name defaults to `world`.
   * No schema: the hottest route reads the raw value (a repeated `name` is an array, and greets the world).
   */
  @Get('/hello', { response: Greeting })
  hello(@Query('name') name: string | string[] | undefined): Infer<typeof Greeting> {
    return { message: this.greeter.greet(typeof name === 'string' && name !== '' ? name : 'world') };
  }

  /** `POST /echo` → the JSON body it received, any JSON value; 415 without one. */
  @Post('/echo')
  echo(@Body() body: unknown): unknown {
    if (body === undefined) throw new HttpError(415, 'send a JSON body with content-type application/json');
    return body;
  }

  /** `GET /slow?ms=N` → 200 after N ms (for drain tests); N outside 0–60000 answers 400 naming `ms`. */
  @Get('/slow', { response: Slept })
  async slow(@Query('ms', SleepMs) ms: number): Promise<Infer<typeof Slept>> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { sleptMs: ms };
  }
}
