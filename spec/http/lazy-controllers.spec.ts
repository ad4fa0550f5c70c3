import { expect } from 'chai';
import {
  Body,
  Command,
  Controller,
  execute,
  Get,
  type LazyList,
  Main,
  Param,
  PreRun,
  ReadinessCheck,
  Run,
} from 'dionysus';
import { Capture, createTestContainer, preload, runCommand, startInMemory } from 'dionysus/testing';
import { z } from 'zod';

/**
 * `@Command('http', { controllers: () => import('./controllers/index.js') })`:
 * the controllers' modules (and their schema library) load when the command
 * runs or is documented, never for `--help`, another command or a usage error.
 * A list's function is called once per process, so each test makes its own app.
 */
function appListing(controllers: LazyList<'controllers'>, name = 'lazy') {
  @Command('http', { controllers })
  class HttpCommand {}

  @Command('greet')
  class GreetCommand {
    @Run() run(): void {}
  }

  @Main({ name, commands: [HttpCommand, GreetCommand] })
  class LazyApp {}
  return LazyApp;
}

/** A controller with a validated route, a PreRun hook and a readiness check, as a lazily loaded module declares it. */
function itemsController(log: string[]) {
  @Controller('/items')
  class ItemsController {
    @PreRun() open(): void {
      log.push('ItemsController.open');
    }

    @ReadinessCheck('items') ready(): void {}

    @Get('/:id') find(@Param('id', z.number().int()) id: number): object {
      return { id, type: typeof id };
    }
  }
  return ItemsController;
}

/** `app <argv>` as the binary runs it, without the testing helpers (which load lazy lists first). */
async function cli(app: Function, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await execute(app, { argv, io: { stdout, stderr, colors: false } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('controllers listed by a function, loaded when their command runs', () => {
  it('is not called for --help, http --help, a usage error or another command; the http run serves its routes, hooks and checks', async () => {
    const log: string[] = [];
    let calls = 0;
    const Items = itemsController(log);
    const App = appListing(() => {
      calls++;
      return [Items];
    });
    expect((await cli(App, ['--help'])).stdout).to.include('lazy http');
    expect((await cli(App, ['http', '--help'])).code).to.equal(0);
    expect((await cli(App, ['nope'])).code).to.equal(2);
    expect((await cli(App, ['greet'])).code).to.equal(0);
    expect(calls, 'called before the http command ran').to.equal(0);

    const server = await startInMemory(App);
    try {
      const res = await server.request('/items/7');
      expect([res.status, await res.json()]).to.deep.equal([200, { id: 7, type: 'number' }]);
      const bad = await server.request('/items/x');
      expect(bad.status).to.equal(400);
      const report = (await (await server.request('/healthx/readiness')).json()) as { checks: { name: string }[] };
      expect(report.checks.map((c) => c.name)).to.include('items');
      expect(log).to.deep.equal(['ItemsController.open']);
    } finally {
      expect((await server.stop()).exitCode).to.equal(0);
    }
    expect(calls).to.equal(1);
  });

  it("takes a promise of a module exporting `controllers` (an ESM app's import()), for the run and for `app openapi`", async () => {
    const Items = itemsController([]);
    const App = appListing(async () => ({ controllers: [Items] }));
    const { exitCode, stdout, stderr } = await runCommand(App, ['openapi', 'http']);
    expect(exitCode, stderr).to.equal(0);
    const { paths } = JSON.parse(stdout) as { paths: Record<string, { get?: { operationId: string } }> };
    expect(paths['/items/{id}']?.get?.operationId).to.equal('ItemsController.find');

    const server = await startInMemory(App);
    try {
      expect((await server.request('/items/3')).status).to.equal(200);
    } finally {
      await server.stop();
    }
  });

  it('reports the problems of the loaded controllers when the command runs, all at once, naming Class.method', async () => {
    @Controller('/bad')
    class BadController {
      @Get('/body') read(@Body() body: unknown): unknown {
        return body;
      }

      @Get('/twice') one(): string {
        return 'one';
      }

      @Get('/twice') two(): string {
        return 'two';
      }
    }
    class NotAController {}
    const App = appListing(() => [BadController, NotAController]);
    expect((await cli(App, ['--help'])).code, '--help plans without them').to.equal(0);
    const { code, stderr } = await cli(App, ['http']);
    expect(code).to.equal(1);
    expect(stderr).to.include('BadController.read: @Body on a GET route');
    expect(stderr).to.include('BadController.two: GET /bad/twice is already served by BadController.one');
    expect(stderr).to.include('NotAController: listed in controllers but has no @Controller(prefix) decorator.');
    const openapi = await cli(App, ['openapi', 'http']);
    expect([openapi.code, openapi.stderr]).to.deep.equal([1, stderr]);
  });

  it('fails the run naming the command when the function throws, rejects or gives something else', async () => {
    const throwing = await cli(
      appListing(() => {
        throw new Error("Cannot find module './controllers/index.js'");
      }),
      ['http'],
    );
    expect(throwing.code).to.equal(1);
    expect(throwing.stderr).to.include(
      "HttpCommand: loading its controllers failed: Cannot find module './controllers/index.js'",
    );
    const rejecting = await cli(
      appListing(() => Promise.reject(new Error('boom'))),
      ['http'],
    );
    expect([rejecting.code, rejecting.stderr]).to.deep.equal([
      1,
      "1 problem in the app's decorators:\n  - HttpCommand: loading its controllers failed: boom\n",
    ]);
    const other = await cli(appListing((() => ({ default: [] })) as never), ['http']);
    expect(other.code).to.equal(1);
    expect(other.stderr).to.include(
      "HttpCommand: its controllers function gave an object with 'default'; return an array of @Controller classes, or a module that exports one as 'controllers' (or a promise of either).",
    );
  });

  it('warns of a @Controller the loaded modules declare that no command lists, as the launcher does at start', async () => {
    const Items = itemsController([]);
    const App = appListing(() => {
      // The module declares a second controller and leaves it out of the list.
      @Controller('/stray')
      // biome-ignore lint/correctness/noUnusedVariables: its decorator declares it, nothing lists it
      class StrayController {
        @Get('') get(): string {
          return 'never served';
        }
      }
      return [Items];
    });
    const stderr = new Capture();
    const code = await execute(App, { argv: ['openapi', 'http'], declared: [], io: { stdout: new Capture(), stderr } });
    expect(code).to.equal(0);
    expect(stderr.text).to.equal(
      "lazy: warning: StrayController: a @Controller that no command lists in controllers, so its routes are never served; add it to @Command('http', { controllers: [StrayController] }).\n",
    );
  });

  it('refuses one class given where the array belongs, at start', async () => {
    const Items = itemsController([]);
    const { code, stderr } = await cli(appListing(Items as never), ['--help']);
    expect(code).to.equal(1);
    expect(stderr).to.include('HttpCommand: @Command controllers must be an array of @Controller classes');
  });

  it('createTestContainer binds them: at once from a synchronous function, after preload() from one returning a promise', async () => {
    const Items = itemsController([]);
    const now = createTestContainer(appListing(() => [Items]) as never);
    expect(now.get(Items)).to.be.instanceOf(Items);

    const Later = itemsController([]);
    const App = appListing(async () => [Later], 'later');
    expect(() => createTestContainer(App as never)).to.throw(
      "createTestContainer(LazyApp): HttpCommand's controllers load through a promise, and createTestContainer is synchronous; `await preload(LazyApp)` (dionysus/testing) before it",
    );
    await preload(App as never);
    expect(createTestContainer(App as never).get(Later)).to.be.instanceOf(Later);
  });
});
