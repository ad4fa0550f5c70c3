import { expect } from 'chai';
import { Command, Main, Option, PlanError, PreRun, Run } from 'dionysus';
import { createTestContainer, override, runCommand } from 'dionysus/testing';

/** What the commands printed. */
let out: string[] = [];

class Greeter {
  greet(name: string): string {
    return `hello ${name}`;
  }
}

/** Not listed in providers: the container builds it on first use. */
class Punctuation {
  readonly mark = '!';
}

@Command('greet')
class GreetCommand {
  @Option('--name')
  name: string = 'world';

  constructor(
    readonly greeter: Greeter,
    readonly punctuation: Punctuation,
  ) {}

  @Run()
  run(): void {
    out.push(this.greeter.greet(this.name) + this.punctuation.mark);
  }
}

@Main({ name: 'inject', commands: [GreetCommand], providers: [Greeter] })
class InjectApp {
  constructor(readonly greeter: Greeter) {}

  @PreRun()
  open(): void {
    out.push(this.greeter.greet('main'));
  }
}

describe('container', () => {
  beforeEach(() => {
    out = [];
  });

  it('injects a provider into the command and the Main class by constructor type', async () => {
    const result = await runCommand(InjectApp, ['greet', '--name', 'ada']);
    expect(result.exitCode).to.equal(0);
    expect(out).to.deep.equal(['hello main', 'hello ada!']);
  });

  it('shares one provider instance between Main and the command', () => {
    const container = createTestContainer(InjectApp);
    const greet = container.get(GreetCommand);
    expect(greet.greeter).to.be.instanceOf(Greeter);
    expect(container.get(InjectApp).greeter).to.equal(greet.greeter);
    expect(greet.punctuation).to.be.instanceOf(Punctuation);
  });

  it('lets an override rebind a provider to a fake that the command then uses', async () => {
    const fake: Greeter = { greet: (name) => `fake hi ${name}` };
    const container = createTestContainer(InjectApp, { overrides: [override(Greeter).useValue(fake)] });
    expect(container.get(GreetCommand).greeter).to.equal(fake);

    const result = await runCommand(InjectApp, ['greet', '--name', 'ada'], { container });
    expect(result.exitCode).to.equal(0);
    expect(out).to.deep.equal(['fake hi main', 'fake hi ada!']);
  });

  it('builds a fresh container per test: an override does not leak into the next one', async () => {
    createTestContainer(InjectApp, { overrides: [override(Greeter).useValue({ greet: () => 'leaked' })] });
    await runCommand(InjectApp, ['greet']);
    expect(out).to.deep.equal(['hello main', 'hello world!']);
  });

  it('throws a PlanError from createTestContainer for a broken app', () => {
    @Command('broken')
    class Broken {
      constructor(readonly port: number) {}
    }

    @Main({ name: 'broken-container', commands: [Broken] })
    class BrokenApp {}

    let thrown: unknown;
    try {
      createTestContainer(BrokenApp);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(PlanError);
    const problems = (thrown as PlanError).problems;
    expect(problems).to.have.length(2);
    expect(problems[0]).to.include('Broken: a task (no server) needs one @Run() method');
    expect(problems[1]).to.include('Broken: constructor parameter #1 has type Number');
  });

  it('fails the run naming the class when a constructor throws', async () => {
    @Command('explode')
    class Exploding {
      constructor() {
        throw new Error('kaboom');
      }

      @Run()
      run(): void {}
    }

    @Main({ name: 'explode', commands: [Exploding] })
    class ExplodeApp {}

    const result = await runCommand(ExplodeApp, ['explode']);
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.include('cannot build Exploding from the container').and.include('kaboom');
  });
});
