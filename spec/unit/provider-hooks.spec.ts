import { expect } from 'chai';
import {
  Command,
  Controller,
  Get,
  Health,
  Injectable,
  Main,
  PostRun,
  PreRun,
  ReadinessCheck,
  Run,
  Shutdown,
} from 'dionysus';
import { FakeSignals, runCommand, startInMemory } from 'dionysus/testing';
import { exitErrors } from '../support/events.js';

/** Every hook that ran, as `phase Class`, in call order. */
let calls: string[] = [];
/** Hooks (`phase Class`) that throw. */
let failing = new Set<string>();

async function hook(phase: string, owner: object): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  const name = `${phase} ${owner.constructor.name}`;
  calls.push(name);
  if (failing.has(name)) throw new Error(`${name} broke`);
}

/** A class with one hook of each phase; `order` sets its PreRun order. */
function hooked(order = 0) {
  class Hooked {
    @PreRun({ order })
    open(): Promise<void> {
      return hook('prerun', this);
    }

    @Shutdown()
    stop(): Promise<void> {
      return hook('shutdown', this);
    }

    @PostRun()
    close(): Promise<void> {
      return hook('postrun', this);
    }
  }
  return Hooked;
}

class Store extends hooked() {}

@Injectable()
class Cache extends hooked() {
  constructor(readonly store: Store) {
    super();
  }
}

@Injectable()
class Reports extends hooked() {
  constructor(readonly cache: Cache) {
    super();
  }
}

@Command('serve')
class Serve extends hooked() {
  constructor(readonly reports: Reports) {
    super();
  }

  @Run()
  run(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
}

@Main({ name: 'chain', commands: [Serve], providers: [Reports, Cache, Store] })
class ChainApp extends hooked() {}

@Command('noop')
class Noop {
  @Run()
  run(): void {}
}

/** The hooks a clean run of `argv` called. */
async function cleanRun(app: Function, argv: string[]): Promise<string[]> {
  calls = [];
  const result = await runCommand(app as never, argv);
  expect(result.exitCode, result.stderr).to.equal(0);
  return calls;
}

/** Runs `argv`, sending SIGTERM once running. */
async function runUntilStopped(app: Function, argv: string[]) {
  const signals = new FakeSignals();
  return runCommand(app as never, argv, {
    signals,
    onEvent: (e) => {
      if (e.type === 'state' && e.state === 'running') signals.send('SIGTERM');
    },
  });
}

describe('hooks on providers', () => {
  beforeEach(() => {
    calls = [];
    failing = new Set();
  });

  it('runs PreRun after everything a class depends on, Main and the command last; Shutdown and PostRun reversed', async () => {
    const result = await runUntilStopped(ChainApp, ['serve']);
    expect(result.exitCode).to.equal(0);
    const order = ['Store', 'Cache', 'Reports', 'ChainApp', 'Serve'];
    const reversed = [...order].reverse();
    expect(calls).to.deep.equal([
      ...order.map((c) => `prerun ${c}`),
      ...reversed.map((c) => `shutdown ${c}`),
      ...reversed.map((c) => `postrun ${c}`),
    ]);
  });

  it('orders independent providers by their PreRun order, then as listed', async () => {
    class Late extends hooked(5) {}
    class Early extends hooked(-1) {}
    class Plain extends hooked() {}
    class AlsoPlain extends hooked() {}

    @Main({ name: 'ties', commands: [Noop], providers: [Late, Plain, Early, AlsoPlain] })
    class TiesApp {}

    expect(await cleanRun(TiesApp, ['noop'])).to.deep.equal([
      'prerun Early',
      'prerun Plain',
      'prerun AlsoPlain',
      'prerun Late',
      'postrun Late',
      'postrun AlsoPlain',
      'postrun Plain',
      'postrun Early',
    ]);
  });

  it('gives no PostRun to a provider whose PreRun failed or never ran, and still releases those that started', async () => {
    failing.add('prerun Cache');
    const result = await runCommand(ChainApp, ['serve']);
    expect(result.exitCode).to.equal(1);
    expect(exitErrors(result.events).map((e) => e.message)).to.deep.equal([
      'Cache.open failed in prerun: prerun Cache broke',
    ]);
    // Main's and the command's PostRun run after any failure, as they always did.
    expect(calls).to.deep.equal(['prerun Store', 'prerun Cache', 'postrun Serve', 'postrun ChainApp', 'postrun Store']);
  });

  it('counts a provider without PreRun hooks as started once those before it started', async () => {
    class Closer {
      @PostRun()
      close(): Promise<void> {
        return hook('postrun', this);
      }
    }

    class Opener extends hooked(1) {}

    @Main({ name: 'closers', commands: [Noop], providers: [Closer, Opener] })
    class ClosersApp {}

    failing.add('prerun Opener');
    const result = await runCommand(ClosersApp, ['noop']);
    expect(result.exitCode).to.equal(1);
    expect(calls).to.deep.equal(['prerun Opener', 'postrun Closer']);
  });

  it("runs no hook of a class the command does not build: another command's provider, or what only it reaches", async () => {
    class OnlyForTwo extends hooked() {}
    class ReachedFromTwo extends hooked() {}

    @Command('one')
    class One {
      @Run()
      run(): void {
        calls.push('run One');
      }
    }

    @Command('two', { providers: [OnlyForTwo] })
    class Two {
      constructor(readonly reached: ReachedFromTwo) {}
      @Run()
      run(): void {}
    }

    @Main({ name: 'unbuilt', commands: [One, Two] })
    class UnbuiltApp {}

    expect(await cleanRun(UnbuiltApp, ['one'])).to.deep.equal(['run One']);
    expect(await cleanRun(UnbuiltApp, ['two'])).to.deep.equal([
      'prerun OnlyForTwo',
      'prerun ReachedFromTwo',
      'postrun ReachedFromTwo',
      'postrun OnlyForTwo',
    ]);
  });

  it("runs the hooks of a factory's instance, whose class the planner first sees at run time", async () => {
    class Client extends hooked() {}

    @Main({
      name: 'factory-hooks',
      commands: [Noop],
      providers: [{ provide: 'CLIENT', useFactory: async () => new Client() }],
    })
    class FactoryHooksApp {}

    expect(await cleanRun(FactoryHooksApp, ['noop'])).to.deep.equal(['prerun Client', 'postrun Client']);
  });

  it("runs a controller's hooks around the server and registers its checks", async () => {
    @Controller('/users')
    class UsersController extends hooked() {
      constructor(readonly health: Health) {
        super();
      }

      @ReadinessCheck('users')
      ready(): void {}

      @Get('/checks')
      checks(): string[] {
        return this.health.checks('readiness').map((c) => c.name);
      }
    }

    @Command('http', { controllers: [UsersController] })
    class Http extends hooked() {}

    @Main({ name: 'controller-hooks', commands: [Http] })
    class ControllerHooksApp {}

    const server = await startInMemory(ControllerHooksApp);
    const response = await server.request('/users/checks');
    expect(await response.json()).to.deep.equal(['users']);
    const result = await server.stop();
    expect(result.exitCode).to.equal(0);
    expect(calls).to.deep.equal([
      'prerun UsersController',
      'prerun Http',
      'shutdown Http',
      'shutdown UsersController',
      'postrun Http',
      'postrun UsersController',
    ]);
  });
});
