import { expect } from 'chai';
import {
  Command,
  Health,
  HookError,
  HookTimeoutError,
  Inject,
  Injectable,
  Main,
  PreRun,
  ReadinessCheck,
  Run,
} from 'dionysus';
import { createTestContainer, FakeClock, runCommand } from 'dionysus/testing';
import { EventWatch, exitErrors, never } from '../support/events.js';
import { problemsOf } from '../support/plan.js';

/** What the command saw, one entry per run. */
let seen: Record<string, unknown> = {};

const GREETING = 'GREETING';
const PUNCTUATION = Symbol('punctuation');

/** An abstract class as a token: only a provider may say what it is. */
abstract class Clock {
  constructor() {
    if (new.target === Clock) throw new Error('the abstract Clock was instantiated');
  }
  abstract now(): number;
}

class FixedClock extends Clock {
  now(): number {
    return 42;
  }
}

/** A plain class with a constructor parameter, built through @Injectable(). */
@Injectable()
class Formatter {
  constructor(@Inject(PUNCTUATION) readonly mark: string) {}
  format(text: string): string {
    return `${text}${this.mark}`;
  }
}

class Greeter {
  constructor(readonly greeting: string) {}
}

class Mailer {
  readonly kind = 'smtp';
}

@Command('greet')
class GreetCommand {
  @Inject('RECIPIENT')
  recipient!: string;

  constructor(
    @Inject(GREETING) readonly greeting: string,
    readonly formatter: Formatter,
    readonly clock: Clock,
    @Inject('GREETER') readonly greeter: Greeter,
    @Inject('ASYNC_GREETER') readonly asyncGreeter: Greeter,
    @Inject('MAILER') readonly mailer: Mailer,
  ) {}

  @Run()
  run(): void {
    seen = {
      greeting: this.greeting,
      formatted: this.formatter.format(this.greeting),
      now: this.clock.now(),
      greeter: this.greeter.greeting,
      asyncGreeter: this.asyncGreeter.greeting,
      mailer: this.mailer.kind,
      recipient: this.recipient,
    };
  }
}

@Main({
  name: 'kinds',
  commands: [GreetCommand],
  providers: [
    { provide: GREETING, useValue: 'hello' },
    { provide: PUNCTUATION, useValue: '!' },
    { provide: Clock, useClass: FixedClock },
    { provide: 'MAILER', useClass: Mailer },
    {
      provide: 'GREETER',
      useFactory: (greeting: string, f: Formatter) => new Greeter(f.format(greeting)),
      inject: [GREETING, Formatter],
    },
    {
      provide: 'ASYNC_GREETER',
      useFactory: async (greeter: Greeter) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return new Greeter(`${greeter.greeting} (async)`);
      },
      inject: ['GREETER'],
    },
    { provide: 'RECIPIENT', useValue: 'ada' },
  ],
})
class KindsApp {}

describe('providers of every kind', () => {
  beforeEach(() => {
    seen = {};
  });

  it('injects class, useClass, useValue, sync and async useFactory, string, symbol and abstract-class tokens', async () => {
    const result = await runCommand(KindsApp, ['greet']);
    expect(result.exitCode).to.equal(0);
    expect(seen).to.deep.equal({
      greeting: 'hello',
      formatted: 'hello!',
      now: 42,
      greeter: 'hello!',
      asyncGreeter: 'hello! (async)',
      mailer: 'smtp',
      recipient: 'ada',
    });
  });

  it('builds the same graph in a test container, the abstract class never instantiated', () => {
    const container = createTestContainer(KindsApp);
    const clock = container.get(Clock as never) as Clock;
    expect(clock).to.be.instanceOf(FixedClock);
    // useClass shares the instance with whoever asks for the class itself.
    expect(container.get(FixedClock)).to.equal(clock);
    expect(container.get('GREETER' as never)).to.deep.include({ greeting: 'hello!' });
  });

  it('keeps a command-level provider to its command: another command asking for it is a plan error', async () => {
    @Command('one', { providers: [{ provide: 'LOCAL', useValue: 'mine' }] })
    class One {
      constructor(@Inject('LOCAL') readonly local: string) {}
      @Run()
      run(): void {
        seen.one = this.local;
      }
    }

    @Command('two')
    class Two {
      constructor(@Inject('LOCAL') readonly local: string) {}
      @Run()
      run(): void {}
    }

    @Main({ name: 'local', commands: [One, Two] })
    class LocalApp {}

    expect(problemsOf(LocalApp)).to.deep.equal([
      "Two: constructor parameter #1 asks for token 'LOCAL', which no provider binds when 'two' runs; add { provide: 'LOCAL', useValue | useClass | useFactory } to @Main({ providers }) or to the command's providers.",
    ]);

    @Main({ name: 'local-ok', commands: [One] })
    class LocalOkApp {}
    const result = await runCommand(LocalOkApp, ['one']);
    expect(result.exitCode).to.equal(0);
    expect(seen.one).to.equal('mine');
  });

  it('lets two commands bind the same token each their own way', async () => {
    @Command('en', { providers: [{ provide: GREETING, useValue: 'hello' }] })
    class English {
      constructor(@Inject(GREETING) readonly greeting: string) {}
      @Run()
      run(): void {
        seen.en = this.greeting;
      }
    }

    @Command('fr', { providers: [{ provide: GREETING, useFactory: () => 'bonjour' }] })
    class French {
      constructor(@Inject(GREETING) readonly greeting: string) {}
      @Run()
      run(): void {
        seen.fr = this.greeting;
      }
    }

    @Main({ name: 'langs', commands: [English, French] })
    class LangsApp {}

    expect((await runCommand(LangsApp, ['en'])).exitCode).to.equal(0);
    expect((await runCommand(LangsApp, ['fr'])).exitCode).to.equal(0);
    expect(seen).to.deep.equal({ en: 'hello', fr: 'bonjour' });
    const container = createTestContainer(LangsApp);
    expect(container.get(English).greeting).to.equal('hello');
    expect(container.get(French).greeting).to.equal('bonjour');
  });

  it('reports an unbound token, a cycle through a factory and a token bound twice, all at once', () => {
    @Injectable()
    class Repository {
      constructor(@Inject('POOL') readonly pool: unknown) {}
    }

    @Command('report')
    class Report {
      constructor(
        readonly repository: Repository,
        @Inject('REPORT_DIR') readonly dir: string,
      ) {}
      @Run()
      run(): void {}
    }

    @Main({
      name: 'three-errors',
      commands: [Report],
      providers: [
        { provide: 'POOL', useFactory: (repository: Repository) => repository, inject: [Repository] },
        { provide: 'RETRIES', useValue: 3 },
        { provide: 'RETRIES', useValue: 5 },
      ],
    })
    class ThreeErrors {}

    expect(problemsOf(ThreeErrors)).to.deep.equal([
      "@Main(ThreeErrors) providers[2]: token 'RETRIES' is already bound by @Main(ThreeErrors) providers[1]; a token has one provider, remove one of them.",
      "'POOL': circular dependency 'POOL' -> Repository -> 'POOL'; nothing in it can be built first, move what they share into a provider of its own.",
      "Report: constructor parameter #2 asks for token 'REPORT_DIR', which no provider binds; add { provide: 'REPORT_DIR', useValue | useClass | useFactory } to @Main({ providers }) or to the command's providers.",
    ]);
  });

  it('names an unbound token a factory asks for, and every malformed provider', () => {
    @Command('noop')
    class Noop {
      @Run()
      run(): void {}
    }

    @Main({
      name: 'malformed',
      commands: [Noop],
      providers: [
        { provide: 'A', useFactory: (b: string) => b, inject: ['B'] },
        { provide: 'C' } as never,
        { provide: 'D', useValue: 1, useFactory: () => 2 } as never,
        { provide: 'E', useFactory: (x: number, y: number) => x + y, inject: ['A'] },
        { provide: 'F', useExisting: 'A' } as never,
        42 as never,
        { provide: undefined, useValue: 1 } as never,
      ],
    })
    class Malformed {}

    expect(problemsOf(Malformed)).to.deep.equal([
      "@Main(Malformed) providers[1] (token 'C'): has none; give exactly one of useClass, useValue or useFactory.",
      "@Main(Malformed) providers[2] (token 'D'): has useValue and useFactory; give exactly one of useClass, useValue or useFactory.",
      "@Main(Malformed) providers[3] (token 'E'): useFactory takes 2 parameters but inject lists 1; list a token in inject for each parameter, in order.",
      "@Main(Malformed) providers[4] (token 'F'): unknown key 'useExisting'; a provider has provide and one of useClass, useValue or useFactory (with inject).",
      "@Main(Malformed) providers[4] (token 'F'): has none; give exactly one of useClass, useValue or useFactory.",
      '@Main(Malformed) providers[5] is 42, not a class or a provider; write a class, { provide, useClass }, { provide, useValue } or { provide, useFactory, inject? }.',
      '@Main(Malformed) providers[6]: provide is undefined; a token is a class, a string or a symbol (an undefined class is usually a circular import).',
      "@Main(Malformed) providers[0] (token 'A'): inject[0] asks for token 'B', which no provider binds; add { provide: 'B', useValue | useClass | useFactory } to @Main({ providers }) or to the command's providers.",
    ]);
  });

  it('reports @Inject of an undefined class (a circular import) and @Inject on a method parameter', () => {
    const NotYetDefined = undefined as unknown as Function;

    @Command('misused')
    class Misused {
      constructor(@Inject(NotYetDefined as never) readonly early: unknown) {}
      @Run()
      run(@Inject('X') _x?: unknown): void {}
    }

    @Main({ name: 'misused', commands: [Misused] })
    class MisusedApp {}

    expect(problemsOf(MisusedApp)).to.deep.equal([
      'Misused.run: @Inject is on a method parameter or a static member; use it on a constructor parameter or an instance property.',
      'Misused: constructor parameter #1: @Inject(undefined) is not a class, a string or a symbol; an undefined class is usually a circular import, use a string or symbol token instead.',
    ]);
  });

  describe('async factories', () => {
    const log: string[] = [];

    @Command('work')
    class Work {
      constructor(@Inject('CLIENT') readonly client: unknown) {}
      @PreRun()
      prepare(): void {
        log.push('Work.prepare');
      }
      @Run()
      run(): void {
        log.push('Work.run');
      }
    }

    let factory: () => Promise<unknown> = async () => ({});

    @Main({ name: 'async', commands: [Work], providers: [{ provide: 'CLIENT', useFactory: () => factory() }] })
    class AsyncApp {
      @PreRun()
      open(): void {
        log.push('AsyncApp.open');
      }
    }

    beforeEach(() => {
      log.length = 0;
    });

    it('fails the run before any PreRun when one rejects, naming the token and where it was declared', async () => {
      factory = async () => {
        throw new Error('connection refused');
      };
      const result = await runCommand(AsyncApp, ['work']);
      expect(result.exitCode).to.equal(1);
      expect(log).to.deep.equal([]);
      const [error] = exitErrors(result.events);
      expect(error).to.be.instanceOf(HookError);
      expect(error?.message).to.equal(
        "@Main(AsyncApp) providers[0] (token 'CLIENT'): useFactory failed before PreRun: connection refused",
      );
      expect(result.stderr).to.include("@Main(AsyncApp) providers[0] (token 'CLIENT'): useFactory failed");
      expect(result.events.some((e) => e.type === 'phase:start' && e.phase === 'prerun')).to.equal(false);
    });

    it('fails the run before any PreRun when one hangs past the hook deadline, naming the token', async () => {
      factory = () => never();
      const clock = new FakeClock();
      const watch = new EventWatch();
      const running = runCommand(AsyncApp, ['work'], {
        clock,
        settings: { hooks: { timeoutMs: 300 } },
        onEvent: watch.onEvent,
      });
      await watch.when((e) => e.type === 'phase:end' && e.phase === 'framework');
      await clock.advance(299);
      expect(watch.seen.some((e) => e.type === 'exit')).to.equal(false);
      await clock.advance(1);
      const result = await running;
      expect(result.exitCode).to.equal(1);
      expect(log).to.deep.equal([]);
      const [error] = exitErrors(result.events);
      expect(error).to.be.instanceOf(HookTimeoutError);
      expect(error).to.include({ hook: "@Main(AsyncApp) providers[0] (token 'CLIENT')", timeoutMs: 300 });
      expect(error?.message).to.include(
        "@Main(AsyncApp) providers[0] (token 'CLIENT'): useFactory did not settle within 300 ms",
      );
    });
  });

  it("registers the checks of a factory's and a useClass provider's instance, for the running command only", async () => {
    class Queue {
      @ReadinessCheck('queue')
      ready(): void {}
    }

    class Search {
      @ReadinessCheck('search')
      ready(): void {}
    }

    class Other {
      @ReadinessCheck('other')
      ready(): void {}
    }

    @Command('checked')
    class Checked {
      constructor(
        @Inject('QUEUE') readonly queue: Queue,
        @Inject('SEARCH') readonly search: Search,
        readonly health: Health,
      ) {}
      @Run()
      run(): void {
        seen.checks = this.health.checks('readiness').map((c) => c.name);
      }
    }

    @Command('other', { providers: [{ provide: 'OTHER', useFactory: () => new Other() }] })
    class OtherCommand {
      constructor(@Inject('OTHER') readonly other: Other) {}
      @Run()
      run(): void {}
    }

    @Main({
      name: 'checked',
      commands: [Checked, OtherCommand],
      providers: [
        { provide: 'QUEUE', useFactory: async () => new Queue() },
        { provide: 'SEARCH', useClass: Search },
      ],
    })
    class CheckedApp {}

    const result = await runCommand(CheckedApp, ['checked']);
    expect(result.exitCode).to.equal(0);
    expect(seen.checks).to.deep.equal(['queue', 'search']);
  });
});
