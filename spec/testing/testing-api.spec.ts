import { expect } from 'chai';
import {
  AppConfig,
  Clock,
  Command,
  Controller,
  Get,
  InjectConfig,
  Logger,
  Main,
  Option,
  Output,
  PostRun,
  PreRun,
  Run,
} from 'dionysus';
import {
  createTestContainer,
  FakeClock,
  FakeSignals,
  override,
  runCommand,
  startInMemory,
  startServer,
} from 'dionysus/testing';

/** A provider the tests replace: the real one would need a server. */
class Database {
  rows(): string[] {
    throw new Error('the real database is not reachable from a unit test');
  }
}

/** Injects configuration two ways: a key, and the whole of it. */
class Greeting {
  constructor(
    @InjectConfig('greeting.text') readonly text: string,
    readonly config: AppConfig,
  ) {}

  get punctuation(): string {
    return this.config.has('greeting.mark') ? this.config.get<string>('greeting.mark') : '.';
  }
}

/** `report`: one line per row on its Output, and nothing else there. */
@Command('report')
class ReportCommand {
  constructor(
    private readonly db: Database,
    private readonly greeting: Greeting,
    private readonly out: Output,
  ) {}

  @Run()
  run(): void {
    for (const row of this.db.rows()) this.out.write(`${this.greeting.text} ${row}${this.greeting.punctuation}\n`);
  }
}

/** `remind --in-ms N`: waits on the injected Clock, as a retry or a poll of the user's would. */
@Command('remind')
class RemindCommand {
  @Option('--in-ms')
  inMs: number = 60_000;

  constructor(
    private readonly clock: Clock,
    private readonly out: Output,
  ) {}

  @Run()
  async run(): Promise<void> {
    const started = this.clock.now();
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.inMs));
    this.out.write(`reminded after ${this.clock.now() - started} ms\n`);
  }
}

@Controller()
class RowsController {
  constructor(
    private readonly db: Database,
    private readonly greeting: Greeting,
  ) {}

  @Get('/rows')
  list(): { greeting: string; rows: string[] } {
    return { greeting: this.greeting.text, rows: this.db.rows() };
  }
}

@Command('http', { controllers: [RowsController] })
class HttpCommand {}

@Main({ name: 'testing-api', commands: [ReportCommand, RemindCommand, HttpCommand], providers: [Database] })
class TestingApp {}

const fakeDb: Database = { rows: () => ['ada', 'grace'] };

describe('dionysus/testing', () => {
  describe('overrides', () => {
    it('replaces a provider with useValue, and runCommand returns what the task wrote to its Output', async () => {
      const result = await runCommand(TestingApp, ['report'], {
        overrides: [override(Database).useValue(fakeDb)],
        config: { greeting: { text: 'hi' } },
      });
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('hi ada.\nhi grace.\n');
    });

    it('builds a useClass replacement through the container, once', () => {
      class MemoryDatabase {
        readonly made = new Date();
        rows(): string[] {
          return ['in memory'];
        }
      }
      const container = createTestContainer(TestingApp, {
        overrides: [override(Database).useClass(MemoryDatabase)],
        config: { greeting: { text: 'hi' } },
      });
      const db = container.get(Database);
      expect(db).to.be.instanceOf(MemoryDatabase);
      expect(container.get(Database)).to.equal(db);
      expect(db.rows()).to.deep.equal(['in memory']);
    });

    it("runs a useClass replacement's own PreRun and PostRun hooks, as the command builds it", async () => {
      const calls: string[] = [];
      class SeededDatabase {
        private seeded: string[] = [];
        @PreRun()
        async seed(): Promise<void> {
          await new Promise((resolve) => setTimeout(resolve, 5));
          this.seeded = ['seeded'];
          calls.push('seed');
        }
        @PostRun()
        close(): void {
          calls.push('close');
        }
        rows(): string[] {
          return this.seeded;
        }
      }
      const result = await runCommand(TestingApp, ['report'], {
        overrides: [override(Database).useClass(SeededDatabase)],
        config: { greeting: { text: 'rows' } },
      });
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('rows seeded.\n');
      expect(calls).to.deep.equal(['seed', 'close']);
    });

    it('calls a useFactory with the tokens of inject resolved', async () => {
      const result = await runCommand(TestingApp, ['report'], {
        overrides: [
          override(Database).useFactory((config) => ({ rows: () => [config.get<string>('db.name')] }), [AppConfig]),
        ],
        config: { greeting: { text: 'rows of' }, db: { name: 'reports' } },
      });
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('rows of reports.\n');
    });

    it('types a class token: useValue takes only what is assignable to its instance type', () => {
      // @ts-expect-error: `{ nope }` is not a Database
      const wrong = () => override(Database).useValue({ nope: true });
      // @ts-expect-error: a factory for a Database returns one
      const wrongFactory = () => override(Database).useFactory(() => 42);
      expect([typeof wrong, typeof wrongFactory]).to.deep.equal(['function', 'function']);
    });

    it('refuses, all at once and by name, tokens the app never binds and tokens the run binds itself', () => {
      class Unrelated {}
      let thrown: unknown;
      try {
        createTestContainer(TestingApp, {
          overrides: [
            override('REPORT_LIMIT').useValue(3),
            override(Unrelated).useValue(new Unrelated()),
            override(Clock).useValue(new FakeClock()),
          ],
        });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error).message).to.equal(
        [
          "3 problems in the test's overrides:",
          `  - override("REPORT_LIMIT"): the app binds no "REPORT_LIMIT"; override a provider, a command or a class the app's container builds (check the token, or add it to @Main({ providers })).`,
          `  - override(Unrelated): the app binds no Unrelated; override a provider, a command or a class the app's container builds (check the token, or add it to @Main({ providers })).`,
          '  - override(Clock): the framework binds Clock for each run; pass `clock` (e.g. a FakeClock) instead.',
        ].join('\n'),
      );
    });

    it('keeps the overrides and the config of a container handed to runCommand', async () => {
      const container = createTestContainer(TestingApp, {
        overrides: [override(Database).useValue(fakeDb)],
        config: { greeting: { text: 'hey', mark: '!' } },
      });
      const result = await runCommand(TestingApp, ['report'], { container });
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('hey ada!\nhey grace!\n');
    });
  });

  describe('config', () => {
    it('gives createTestContainer(App).get(X) a class that injects config keys and AppConfig', () => {
      const greeting = createTestContainer(TestingApp, { config: { greeting: { text: 'hi', mark: '?' } } }).get(
        Greeting,
      );
      expect([greeting.text, greeting.punctuation]).to.deep.equal(['hi', '?']);
      expect(greeting.config.sourceOf('greeting.text')).to.equal('the config option');
    });

    it('gives a class built by createTestContainer a working Logger at the configured level', () => {
      @Command('audit')
      class AuditCommand {
        constructor(readonly log: Logger) {}
        @Run() run(): void {}
      }
      @Main({ name: 'audit-app', commands: [AuditCommand] })
      class AuditApp {}
      const container = createTestContainer(AuditApp, { config: { dionysus: { log: { level: 'warn' } } } });
      const { log } = container.get(AuditCommand);
      expect(log.level).to.equal('warn');
      expect(log.isLevelEnabled('info')).to.equal(false);
    });

    it("keeps each test's config its own: two runs in one process see different app keys", async () => {
      const overrides = [override(Database).useValue({ rows: () => ['x'] })];
      const first = await runCommand(TestingApp, ['report'], { overrides, config: { greeting: { text: 'first' } } });
      const second = await runCommand(TestingApp, ['report'], { overrides, config: { greeting: { text: 'second' } } });
      expect([first.stdout, second.stdout]).to.deep.equal(['first x.\n', 'second x.\n']);
      const unset = await runCommand(TestingApp, ['report'], { overrides });
      expect(unset.exitCode).to.equal(1);
      expect(unset.stderr).to.include("config key 'greeting.text' is not set");
    });

    it('applies and validates the dionysus keys of the same config, naming where a bad one came from', async () => {
      const overrides = [override(Database).useValue(fakeDb)];
      const quiet = await runCommand(TestingApp, ['report'], {
        overrides,
        config: { greeting: { text: 'hi' }, dionysus: { log: { level: 'warn' } } },
      });
      expect(quiet.exitCode).to.equal(0);
      expect(quiet.stderr, 'no info lines at level warn').to.equal('');
      const chatty = await runCommand(TestingApp, ['report'], { overrides, config: { greeting: { text: 'hi' } } });
      expect(chatty.stderr).to.include('"level":"info"');

      const bad = await runCommand(TestingApp, ['report'], {
        overrides,
        config: { greeting: { text: 'hi' }, dionysus: { http: { port: 'abc' as unknown as number } } },
      });
      expect(bad.exitCode).to.equal(1);
      expect(bad.stderr).to.include(
        'dionysus.http.port: "abc" is not a port number (0-65535) (from the config option)',
      );
    });

    it('reaches servers too: startInMemory and startServer take the same overrides and config', async () => {
      const options = { overrides: [override(Database).useValue(fakeDb)], config: { greeting: { text: 'rows' } } };
      const memory = await startInMemory(TestingApp, options);
      const inMemory = await (await memory.request('/rows')).json();
      expect((await memory.stop()).exitCode).to.equal(0);
      const server = await startServer(TestingApp, 'http', options);
      const onSocket = await (await server.request('/rows')).json();
      expect((await server.stop()).exitCode).to.equal(0);
      expect([inMemory, onSocket]).to.deep.equal([
        { greeting: 'rows', rows: ['ada', 'grace'] },
        { greeting: 'rows', rows: ['ada', 'grace'] },
      ]);
    });

    it('keeps the config and overrides of a container handed to startInMemory', async () => {
      const container = createTestContainer(TestingApp, {
        overrides: [override(Database).useValue({ rows: () => ['kept'] })],
        config: { greeting: { text: 'from the container' } },
      });
      const memory = await startInMemory(TestingApp, { container });
      const body = await (await memory.request('/rows')).json();
      expect((await memory.stop()).exitCode).to.equal(0);
      expect(body).to.deep.equal({ greeting: 'from the container', rows: ['kept'] });
    });
  });

  describe('clock', () => {
    it("drives the app's own timers with a FakeClock: a one-minute wait ends when the test moves time", async () => {
      const clock = new FakeClock();
      const signals = new FakeSignals();
      let done = false;
      const run = runCommand(TestingApp, ['remind'], { clock, signals }).then((result) => {
        done = true;
        return result;
      });
      await clock.advance(59_999);
      expect(done, 'still waiting a millisecond before the minute').to.equal(false);
      await clock.advance(1);
      const result = await run;
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(result.stdout).to.equal('reminded after 60000 ms\n');
    });
  });
});
