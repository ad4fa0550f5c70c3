import { expect } from 'chai';
import {
  Command,
  LivenessCheck,
  Main,
  Option,
  PlanError,
  PostRun,
  PreRun,
  ReadinessCheck,
  Run,
  Shutdown,
  StartupCheck,
} from 'dionysus';
import { createTestContainer, override, runCommand } from 'dionysus/testing';
import { inject } from 'inversify';
import { buildPlan } from '../../lib/plan/plan.js';

/** The PlanError `createTestContainer` throws for an app. */
function planErrorOf(app: Function): PlanError {
  try {
    createTestContainer(app as never);
  } catch (error) {
    expect(error).to.be.instanceOf(PlanError);
    return error as PlanError;
  }
  throw new Error(`${app.name} planned without problems`);
}

describe('plan: what the decorators produce', () => {
  @Command('http')
  class HttpCommand {}

  @Command('grpc', { description: 'the grpc server' })
  class GrpcCommand {}

  @Command('ctl')
  class CtlCommand {
    @Run()
    loop(): void {}
  }

  @Command('migrate', { description: 'Migrate the database' })
  class MigrateCommand {
    @Option('--dry-run', { description: 'Only print' })
    dryRun: boolean = false;

    @Option('-n,--name', { required: true })
    name!: string;

    @Option('--batch')
    batch: number = 10;

    @Option('--table')
    tables: string[] = [];

    @Option('--mode', { type: 'string' })
    mode: 'fast' | 'safe' = 'safe';

    @PreRun({ order: 2 })
    late(): void {}

    @PreRun()
    first(): void {}

    @PostRun()
    cleanup(): void {}

    @PreRun({ order: -1, timeoutMs: 50 })
    earliest(): void {}

    @PreRun()
    second(): void {}

    @Shutdown()
    stop(): void {}

    @ReadinessCheck('database')
    database(): void {}

    @Run()
    run(): void {}
  }

  @Command('worker', { server: 'ctl' })
  class WorkerCommand {
    @Run()
    work(): void {}
  }

  class Cache {
    @LivenessCheck()
    alive(): void {}
  }

  @Main({
    name: 'plan-app',
    version: '9.9.9',
    description: 'A planned app',
    commands: [HttpCommand, GrpcCommand, CtlCommand, MigrateCommand, WorkerCommand],
    providers: [Cache],
  })
  class PlanApp {
    @StartupCheck('warm', { timeoutMs: 200 })
    warm(): void {}

    @PostRun()
    release(): void {}

    @PreRun()
    open(): void {}
  }

  const plan = buildPlan(PlanApp);

  it('lists every command by name with its class and description', () => {
    expect([...plan.commands.keys()]).to.deep.equal(['http', 'grpc', 'ctl', 'migrate', 'worker']);
    expect(plan.commands.get('migrate')?.cls).to.equal(MigrateCommand);
    expect(plan.commands.get('migrate')?.description).to.equal('Migrate the database');
    expect(plan).to.include({ name: 'plan-app', version: '9.9.9', description: 'A planned app', main: PlanApp });
  });

  it('defaults the server to the command name for http, grpc and ctl', () => {
    expect(plan.commands.get('http')?.server).to.equal('http');
    expect(plan.commands.get('grpc')?.server).to.equal('grpc');
    expect(plan.commands.get('ctl')?.server).to.equal('ctl');
    expect(plan.commands.get('ctl')?.run).to.equal('loop');
  });

  it('makes a command with another name and no server a task with its run method', () => {
    const migrate = plan.commands.get('migrate');
    expect(migrate?.server).to.equal(undefined);
    expect(migrate?.run).to.equal('run');
  });

  it('takes an explicit server over the name', () => {
    const worker = plan.commands.get('worker');
    expect(worker?.server).to.equal('ctl');
  });

  it('orders hooks by order, then by declaration order', () => {
    const prerun = plan.commands.get('migrate')?.hooks.prerun.map((h) => h.name);
    expect(prerun).to.deep.equal([
      'MigrateCommand.earliest',
      'MigrateCommand.first',
      'MigrateCommand.second',
      'MigrateCommand.late',
    ]);
  });

  it('keeps each phase apart and records order and timeout per hook', () => {
    const hooks = plan.commands.get('migrate')?.hooks;
    expect(hooks?.postrun.map((h) => h.name)).to.deep.equal(['MigrateCommand.cleanup']);
    expect(hooks?.shutdown.map((h) => h.name)).to.deep.equal(['MigrateCommand.stop']);
    expect(hooks?.prerun[0]).to.include({ phase: 'prerun', method: 'earliest', order: -1, timeoutMs: 50 });
    expect(hooks?.prerun[1]).to.include({ order: 0, timeoutMs: undefined, owner: MigrateCommand });
    expect(plan.hooks.prerun.map((h) => h.name)).to.deep.equal(['PlanApp.open']);
    expect(plan.hooks.postrun.map((h) => h.name)).to.deep.equal(['PlanApp.release']);
  });

  it('infers option types from the property annotations', () => {
    const options = plan.commands.get('migrate')?.options ?? [];
    const byProperty = Object.fromEntries(options.map((o) => [o.property, o]));
    expect(byProperty.dryRun).to.include({
      flag: '--dry-run',
      type: 'boolean',
      required: false,
      description: 'Only print',
    });
    expect(byProperty.name).to.include({ flag: '-n,--name', type: 'string', required: true });
    expect(byProperty.batch).to.include({ flag: '--batch', type: 'number' });
    expect(byProperty.tables).to.include({ flag: '--table', type: 'array' });
  });

  it('takes an explicit option type over the annotation', () => {
    const mode = plan.commands.get('migrate')?.options.find((o) => o.property === 'mode');
    expect(mode).to.include({ flag: '--mode', type: 'string' });
  });

  it('records checks of Main, commands and providers with their names and timeouts', () => {
    expect(plan.checks).to.have.length(1);
    expect(plan.checks[0]).to.include({ probe: 'startup', name: 'warm', method: 'warm', timeoutMs: 200 });
    expect(plan.commands.get('migrate')?.checks[0]).to.include({
      probe: 'readiness',
      name: 'database',
      owner: MigrateCommand,
    });
    const cacheChecks = plan.providerChecks.get(Cache);
    expect(cacheChecks?.[0]).to.include({ probe: 'liveness', name: 'Cache.alive', method: 'alive' });
    expect(plan.providers).to.deep.equal([Cache]);
  });

  it('freezes the plan', () => {
    const migrate = plan.commands.get('migrate');
    expect(Object.isFrozen(plan)).to.equal(true);
    expect(Object.isFrozen(migrate?.hooks.prerun)).to.equal(true);
    expect(Object.isFrozen(migrate?.options[0])).to.equal(true);
  });

  it('gives a subclass its base class hooks, counting an overridden hook once', () => {
    class BaseCommand {
      @PreRun()
      connect(): void {}

      @PostRun()
      disconnect(): void {}
    }

    @Command('child')
    class ChildCommand extends BaseCommand {
      @PreRun()
      override connect(): void {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'inherit', commands: [ChildCommand] })
    class InheritApp {}

    const child = buildPlan(InheritApp).commands.get('child');
    expect(child?.hooks.prerun.map((h) => h.name)).to.deep.equal(['ChildCommand.connect']);
    expect(child?.hooks.postrun.map((h) => h.name)).to.deep.equal(['ChildCommand.disconnect']);
  });
});

describe('plan: validation', () => {
  it('reports every problem at once in one PlanError naming Class.method', () => {
    @Command('dup')
    class FirstDup {
      @Run()
      run(): void {}
    }

    @Command('dup')
    class SecondDup {
      @Run()
      run(): void {}
    }

    @Command('liveness')
    class ProbeClash {
      @Run()
      run(): void {}
    }

    @Command('twice')
    class TwoRuns {
      @Run()
      a(): void {}

      @Run()
      b(): void {}
    }

    @Command('lazy')
    class NoRun {}

    @Command('props')
    class OnProperty {
      @PreRun()
      notAMethod = 1;

      @PostRun()
      static cleanup(): void {}

      @Run()
      run(): void {}
    }

    @Command('needs-string')
    class NeedsString {
      constructor(readonly prefix: string) {}

      @Run()
      run(): void {}
    }

    @Command('mail', { server: 'smtp' as never })
    class UnknownServer {
      @Run()
      run(): void {}
    }

    class NotACommand {}

    class TwiceProvided {}

    @Command('slow')
    class BadTimeout {
      @PreRun({ timeoutMs: 0 })
      prepare(): void {}

      @Shutdown({ timeoutMs: -5 })
      stop(): void {}

      @Run()
      run(): void {}
    }

    @Main({
      name: 'broken',
      commands: [
        FirstDup,
        SecondDup,
        ProbeClash,
        TwoRuns,
        NoRun,
        OnProperty,
        NeedsString,
        UnknownServer,
        NotACommand,
        BadTimeout,
      ],
      providers: [TwiceProvided, TwiceProvided],
    })
    class BrokenApp {}

    const error = planErrorOf(BrokenApp);
    const expected = [
      "SecondDup: command name 'dup' is already used by FirstDup",
      "ProbeClash: command name 'liveness' is reserved",
      'TwoRuns: 2 @Run methods (a, b)',
      'NoRun: a task (no server) needs one @Run() method',
      'OnProperty.notAMethod: @PreRun is on a property',
      'OnProperty.cleanup: @PostRun is on a static member',
      'NeedsString: constructor parameter #1 has type String',
      'UnknownServer: unknown server "smtp"',
      'NotACommand: listed in @Main commands but has no @Command(name) decorator',
      '@Main(BrokenApp) providers[1]: token TwiceProvided is already bound by @Main(BrokenApp) providers[0]',
      'BadTimeout.prepare: timeoutMs must be a positive number of milliseconds, got 0',
      'BadTimeout.stop: timeoutMs must be a positive number of milliseconds, got -5',
    ];
    for (const fragment of expected) {
      expect(
        error.problems.some((p) => p.includes(fragment)),
        fragment,
      ).to.equal(true);
      expect(error.message).to.include(fragment);
    }
    expect(error.problems).to.have.length(expected.length);
    expect(error.message).to.match(/^12 problems in the app's decorators:/);
    expect(error.kind).to.equal('plan');
  });

  it('fails runCommand with exit code 1 and every problem on stderr', async () => {
    @Command('twice')
    class TwoRuns {
      @Run()
      a(): void {}

      @Run()
      b(): void {}
    }

    @Command('startup')
    class Reserved {
      @Run()
      run(): void {}
    }

    @Main({ name: 'broken-run', commands: [TwoRuns, Reserved] })
    class BrokenRunApp {}

    const result = await runCommand(BrokenRunApp, ['twice']);
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.include('TwoRuns: 2 @Run methods');
    expect(result.stderr).to.include("Reserved: command name 'startup' is reserved");
    expect(result.events).to.deep.equal([]);
  });

  for (const probe of ['startup', 'liveness', 'readiness']) {
    it(`reserves the probe name ${probe}`, () => {
      @Command(probe)
      class ProbeNamed {
        @Run()
        run(): void {}
      }

      @Main({ name: 'probe-clash', commands: [ProbeNamed] })
      class ProbeClashApp {}

      expect(planErrorOf(ProbeClashApp).problems).to.deep.equal([
        `ProbeNamed: command name '${probe}' is reserved for the ${probe} probe; choose another name.`,
      ]);
    });
  }

  it('names a decorator on a getter as not a method', () => {
    @Command('getter')
    class GetterRun {
      @Run()
      get value(): number {
        return 1;
      }
    }

    @Main({ name: 'getter-app', commands: [GetterRun] })
    class GetterApp {}

    const problems = planErrorOf(GetterApp).problems;
    expect(problems.some((p) => p.startsWith('GetterRun.value: @Run is on a property or accessor'))).to.equal(true);
  });

  it('rejects @Option on a static property', () => {
    @Command('static-option')
    class StaticOption {
      @Option('--level')
      static level: string;

      @Run()
      run(): void {}
    }

    @Main({ name: 'static-option-app', commands: [StaticOption] })
    class StaticOptionApp {}

    expect(planErrorOf(StaticOptionApp).problems).to.deep.equal([
      'StaticOption.level: @Option needs an instance property with a string name.',
    ]);
  });

  it('rejects an option whose type cannot be inferred, a malformed flag and a taken flag', () => {
    @Command('opts')
    class BadOptions {
      @Option('--when')
      when!: Date;

      @Option('name')
      name!: string;

      @Option('--help')
      help!: string;

      @Option('--level')
      level!: string;

      @Option('-l,--level')
      other!: string;

      @Run()
      run(): void {}
    }

    @Main({ name: 'options-app', commands: [BadOptions] })
    class OptionsApp {}

    expect(planErrorOf(OptionsApp).problems).to.deep.equal([
      "BadOptions.when: cannot tell the option's type from the property; set @Option(flag, { type }).",
      'BadOptions.name: @Option flag "name" must look like --name or -n,--name.',
      'BadOptions.help: option --help is already taken in command opts; pick another flag.',
      'BadOptions.other: option --level is already taken in command opts; pick another flag.',
    ]);
  });

  it('rejects @Run on Main, a server command with @Run and a ctl command without one', () => {
    @Command('http')
    class HttpWithRun {
      @Run()
      serve(): void {}
    }

    @Command('ctl')
    class CtlWithoutRun {}

    @Main({ name: 'runs-app', commands: [HttpWithRun, CtlWithoutRun] })
    class RunsApp {
      @Run()
      run(): void {}
    }

    const problems = planErrorOf(RunsApp).problems;
    expect(problems).to.have.length(3);
    expect(problems[0]).to.include('RunsApp.run: @Run belongs on a @Command class, not on @Main');
    expect(problems[1]).to.include('HttpWithRun.serve: a http command serves until stopped and takes no @Run');
    expect(problems[2]).to.include('CtlWithoutRun: a ctl command needs one @Run() method');
  });

  it('rejects a constructor parameter of an interface type', () => {
    interface Store {
      get(): string;
    }

    @Command('store')
    class NeedsStore {
      constructor(readonly store: Store) {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'deps-app', commands: [NeedsStore] })
    class DepsApp {}

    expect(planErrorOf(DepsApp).problems).to.deep.equal([
      'NeedsStore: constructor parameter #1 has type Object, which the container cannot provide by type; inject a class, or add @inject(TOKEN) and bind TOKEN.',
    ]);
  });

  it('reports a constructor dependency cycle by its path', () => {
    class Ping {
      constructor(readonly pong: unknown) {}
    }

    class Pong {
      constructor(readonly ping: unknown) {}
    }

    // TypeScript cannot emit a cycle between classes of one file (the later
    // class is not initialised yet), so the metadata is written by hand.
    Reflect.defineMetadata('design:paramtypes', [Pong], Ping);
    Reflect.defineMetadata('design:paramtypes', [Ping], Pong);

    @Command('cycle')
    class CycleCommand {
      constructor(readonly ping: Ping) {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'cycle-app', commands: [CycleCommand] })
    class CycleApp {}

    expect(planErrorOf(CycleApp).problems).to.deep.equal([
      'Ping: circular constructor dependency Ping -> Pong -> Ping; break it with a provider method or a lazy @inject.',
    ]);
  });

  it('names each parameter the container cannot provide, after the ones it can', () => {
    class Clock {}

    @Command('mixed')
    class Mixed {
      constructor(
        readonly clock: Clock,
        readonly retries: number,
        readonly verbose: boolean,
      ) {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'mixed-app', commands: [Mixed] })
    class MixedApp {}

    expect(planErrorOf(MixedApp).problems).to.deep.equal([
      'Mixed: constructor parameter #2 has type Number, which the container cannot provide by type; inject a class, or add @inject(TOKEN) and bind TOKEN.',
      'Mixed: constructor parameter #3 has type Boolean, which the container cannot provide by type; inject a class, or add @inject(TOKEN) and bind TOKEN.',
    ]);
  });

  it('asks for a decorator on a provider whose constructor has parameters but no type metadata', () => {
    class Database {}

    class Repository {
      constructor(readonly db: Database) {}
    }

    @Command('repo')
    class RepoCommand {
      @Run()
      run(): void {}
    }

    @Main({ name: 'repo-app', commands: [RepoCommand], providers: [Repository] })
    class RepoApp {}

    const problems = planErrorOf(RepoApp).problems;
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^Repository: its constructor takes parameters but has no type metadata/);
    expect(problems[0]).to.include('@Injectable() from dionysus');
  });

  it('rejects hook and check timeouts longer than a timer can wait, which would fire after 1 ms', () => {
    @Command('patient')
    class Patient {
      @ReadinessCheck('slow', { timeoutMs: 2 ** 31 })
      slow(): void {}

      @PreRun({ timeoutMs: 3_000_000_000 })
      prepare(): void {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'patient-app', commands: [Patient] })
    class PatientApp {}

    expect(planErrorOf(PatientApp).problems).to.deep.equal([
      'Patient.prepare: timeoutMs 3000000000 is longer than 2147483647 ms (about 24.8 days), the longest a timer can wait.',
      'Patient.slow: check timeoutMs 2147483648 is longer than 2147483647 ms (about 24.8 days), the longest a timer can wait.',
    ]);
  });

  it('rejects a misspelt @Command option at compile time, and at plan time where no compiler checked it', () => {
    // A misspelt `controllers` would plan an http command with no routes: every request a silent 404.
    // @ts-expect-error CommandOptions has no index signature, so an unknown key does not compile.
    @Command('http', { controler: [] })
    class Misspelt {}

    @Main({ name: 'misspelt-app', commands: [Misspelt] })
    class MisspeltApp {}

    expect(planErrorOf(MisspeltApp).problems).to.deep.equal([
      "Misspelt: @Command option 'controler' is not known; did you mean 'controllers'? (options: description, server, controllers, middleware, services, interceptors).",
    ]);
  });

  it('reports every broken constructor parameter at once, also those of the classes they need', () => {
    interface Store {
      get(): string;
    }

    class Database {}

    /** Not decorated: TypeScript emits no parameter types for it. */
    class Repository {
      constructor(readonly db: Database) {}
    }

    @Command('three')
    class ThreeBroken {
      constructor(
        readonly url: string,
        readonly store: Store,
        readonly repository: Repository,
      ) {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'three-app', commands: [ThreeBroken] })
    class ThreeApp {}

    expect(planErrorOf(ThreeApp).problems).to.deep.equal([
      'ThreeBroken: constructor parameter #1 has type String, which the container cannot provide by type; inject a class, or add @inject(TOKEN) and bind TOKEN.',
      'ThreeBroken: constructor parameter #2 has type Object, which the container cannot provide by type; inject a class, or add @inject(TOKEN) and bind TOKEN.',
      'Repository: its constructor takes parameters but has no type metadata (TypeScript emits it only for decorated classes); decorate the class with @Injectable() from dionysus (or @Inject(token) on each parameter).',
    ]);
  });

  it('says to enable experimentalDecorators and emitDecoratorMetadata when the compiler emitted no type metadata', () => {
    // What tsc emits without emitDecoratorMetadata: the decorators run, no design:* metadata is written.
    class Database {}
    class ReportCommand {
      constructor(readonly db: Database) {}
      run(): void {}
    }
    const run = Object.getOwnPropertyDescriptor(ReportCommand.prototype, 'run') as PropertyDescriptor;
    Run()(ReportCommand.prototype, 'run', run);
    Command('report')(ReportCommand);
    class ReportApp {}
    Main({ name: 'report-app', commands: [ReportCommand] })(ReportApp);

    expect(planErrorOf(ReportApp).problems).to.deep.equal([
      'ReportCommand: the constructor parameters have no type metadata, and neither has any decorated member of the app: the compiler emitted none. Set "experimentalDecorators": true and "emitDecoratorMetadata": true in the compilerOptions of tsconfig.json, and compile with tsc (tsx and esbuild drop the metadata).',
    ]);
  });

  it('rejects a bad check timeout and a bad hook order', () => {
    @Command('checked')
    class Checked {
      @LivenessCheck('alive', { timeoutMs: Number.NaN })
      alive(): void {}

      @PreRun({ order: Number.POSITIVE_INFINITY })
      prepare(): void {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'check-app', commands: [Checked] })
    class CheckApp {}

    expect(planErrorOf(CheckApp).problems).to.deep.equal([
      'Checked.prepare: order must be a finite number, got Infinity.',
      'Checked.alive: check timeoutMs must be a positive number of milliseconds, got NaN.',
    ]);
  });

  it('rejects two checks of one probe with the same name, which would hide one another', () => {
    class Database {
      @ReadinessCheck('dependency')
      ping(): void {}
    }

    @Command('serve', { server: 'ctl' })
    class Serve {
      constructor(readonly db: Database) {}

      @ReadinessCheck('dependency')
      reachable(): void {}

      @LivenessCheck('dependency')
      alive(): void {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'dup-checks', commands: [Serve] })
    class DupChecks {}

    expect(planErrorOf(DupChecks).problems).to.deep.equal([
      "Serve.reachable: readiness check 'dependency' is also declared by Database.ping; give one of them another name.",
    ]);
  });

  it('rejects a class without @Main and an app without commands', () => {
    class Undecorated {}
    expect(planErrorOf(Undecorated).problems[0]).to.include(
      'Undecorated: bootstrap needs the class decorated with @Main',
    );

    @Main({ name: 'empty', commands: [] })
    class EmptyApp {}
    expect(planErrorOf(EmptyApp).problems).to.deep.equal([
      'EmptyApp: @Main lists no commands; add at least one @Command class to commands.',
    ]);
  });

  it('accepts a token-injected constructor parameter and lets an override rebind it', () => {
    @Command('hello')
    class Hello {
      constructor(@inject('PREFIX') readonly prefix: string) {}

      @Run()
      run(): void {}
    }

    @Main({ name: 'token-app', commands: [Hello], providers: [{ provide: 'PREFIX', useValue: 'hello' }] })
    class TokenApp {}

    const container = createTestContainer(TokenApp, { overrides: [override('PREFIX').useValue('hi')] });
    expect(container.get(Hello).prefix).to.equal('hi');
  });
});
