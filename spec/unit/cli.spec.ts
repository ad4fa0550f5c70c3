import { expect } from 'chai';
import { Cli, Command as ClipanionCommand } from 'clipanion';
import { Command, Main, Option, Run } from 'dionysus';
import { runCommand } from 'dionysus/testing';
import { buildCli } from '../../lib/cli/cli.js';
import { AppCli, collate } from '../../lib/cli/usage.js';
import { buildPlan } from '../../lib/plan/plan.js';

/** The option values the last greet run saw. */
let seen: Record<string, unknown> = {};

@Command('greet', { description: 'Print a greeting' })
class GreetCommand {
  @Option('--name', { description: 'Who to greet', required: true })
  name!: string;

  @Option('--times', { description: 'How many greetings' })
  times: number = 1;

  @Option('-l,--loud', { description: 'Shout' })
  loud: boolean = false;

  @Option('--tag', { description: 'Tags to add' })
  tags: string[] = [];

  @Option('--wait-ms', { description: 'Wait first', valueName: 'MS' })
  waitMs: number = 0;

  @Run()
  run(): void {
    seen = { name: this.name, times: this.times, loud: this.loud, tags: this.tags };
  }
}

@Command('http')
class HttpCommand {}

@Main({ name: 'cli-app', version: '1.2.3', description: 'A CLI test app', commands: [GreetCommand, HttpCommand] })
class CliApp {}

describe('cli', () => {
  beforeEach(() => {
    seen = {};
  });

  describe('usage errors exit 2 without running the command', () => {
    it('rejects an unknown command', async () => {
      const result = await runCommand(CliApp, ['nope']);
      expect(result.exitCode).to.equal(2);
      expect(result.stderr).to.include('Command not found').and.include('While running nope');
      expect(result.stdout).to.equal('');
      expect(result.events).to.deep.equal([]);
    });

    it('rejects a missing command, printing the usage', async () => {
      const result = await runCommand(CliApp, []);
      expect(result.exitCode).to.equal(2);
      expect(result.stderr).to.include('A command is required.').and.include('cli-app greet');
    });

    it('rejects a non-number value of a number option, naming the flag', async () => {
      const result = await runCommand(CliApp, ['greet', '--name', 'x', '--times', 'many']);
      expect(result.exitCode).to.equal(2);
      expect(result.stderr).to.include('Invalid value for --times: expected a number, got "many"');
      expect(result.stderr).to.include('$ cli-app greet');
      expect(result.stderr).to.not.match(/\bat .+:\d+:\d+/);
      expect(result.events).to.deep.equal([]);
    });

    it('rejects an empty value of a number option', async () => {
      const result = await runCommand(CliApp, ['greet', '--name', 'x', '--times=']);
      expect(result.exitCode).to.equal(2);
      expect(result.stderr).to.include('Invalid value for --times');
    });

    it('rejects a missing required option, naming it', async () => {
      const result = await runCommand(CliApp, ['greet']);
      expect(result.exitCode).to.equal(2);
      expect(result.stderr).to.include('greet: missing required option --name');
      expect(result.stderr).to.include('cli-app greet <--name');
      expect(seen).to.deep.equal({});
    });

    it('rejects an unknown option', async () => {
      const result = await runCommand(CliApp, ['greet', '--name', 'x', '--bogus']);
      expect(result.exitCode).to.equal(2);
      expect(result.stderr).to.include('Unsupported option name ("--bogus")');
    });
  });

  describe('help and version', () => {
    it('lists every command with its description on --help and exits 0', async () => {
      const result = await runCommand(CliApp, ['--help']);
      expect(result.exitCode).to.equal(0);
      expect(result.stdout).to.include('A CLI test app');
      expect(result.stdout).to.include('cli-app greet').and.include('Print a greeting');
      expect(result.stdout).to.include('cli-app http').and.include('run the http server');
      expect(result.events).to.deep.equal([]);
    });

    it("lists the commands in clipanion's own layout and order, on --help and -h, with and without colours", async () => {
      @Command('zeta', { description: 'Last of all' })
      class Zeta {
        @Run() run(): void {}
      }
      @Command('alpha-b', { description: 'A hyphen after a space' })
      class AlphaHyphen {
        @Run() run(): void {}
      }
      @Command('alpha b', { description: 'A space first' })
      class AlphaSpace {
        @Option('--dry-run', { description: 'Change nothing' })
        dryRun: boolean = false;
        @Run() run(): void {}
      }
      @Command('alpha2', { description: 'A digit after the hyphen' })
      class AlphaDigit {
        @Run() run(): void {}
      }
      @Main({
        name: 'order-app',
        version: '0.1.0',
        commands: [Zeta, AlphaHyphen, GreetCommand, AlphaDigit, AlphaSpace],
      })
      class OrderApp {}
      for (const colors of [false, true]) {
        const cli = buildCli(buildPlan(OrderApp), async () => 0, colors);
        expect(cli.usage(null, { colored: colors })).to.equal(Cli.prototype.usage.call(cli, null, { colored: colors }));
      }
      const plain = buildCli(buildPlan(OrderApp), async () => 0, false);
      const listing = Cli.prototype.usage.call(plain, null);
      for (const argv of [['--help'], ['-h']]) {
        const result = await runCommand(OrderApp, argv);
        expect(result.exitCode, argv[0]).to.equal(0);
        expect(result.stdout, argv[0]).to.equal(listing);
      }
      const tasks = listing.slice(listing.indexOf('Tasks'));
      const names = [...tasks.matchAll(/order-app (\S+)/g)].map((m) => m[1]);
      expect(names).to.deep.equal(['alpha', 'alpha-b', 'alpha2', 'greet', 'zeta']);
    });

    it("heads the listing as clipanion does, with a label, a version, both or neither, and leaves a default command's help to clipanion", () => {
      class Listed extends ClipanionCommand {
        static override paths = [['listed']];
        static override usage = ClipanionCommand.Usage({ category: 'Tasks', description: 'A listed task' });
        async execute(): Promise<void> {}
      }
      class Default extends ClipanionCommand {
        static override paths = [];
        async execute(): Promise<void> {}
      }
      const heads = [
        {},
        { binaryLabel: 'An app' },
        { binaryVersion: '1.2.3' },
        { binaryLabel: 'An app', binaryVersion: '1.2.3' },
      ];
      for (const head of heads) {
        for (const extra of [[], [Default]]) {
          const cli = new AppCli({ binaryName: 'x', ...head });
          for (const cls of [Listed, ...extra]) cli.register(cls);
          for (const colored of [false, true]) {
            expect(cli.usage(null, { colored }), JSON.stringify({ head, extra: extra.length, colored })).to.equal(
              Cli.prototype.usage.call(cli, null, { colored }),
            );
          }
        }
      }
    });

    it("sorts help text as localeCompare('en', caseFirst upper) does, without loading ICU for ASCII", () => {
      const alphabet = ' \t\n_-,;:!?.\'"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBzZ';
      let seed = 7;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const text = (length: number): string => Array.from({ length }, () => alphabet[random(alphabet.length)]).join('');
      const pairs: [string, string][] = [
        ['é', 'e'],
        ['a\u001bb', 'ab'],
        ['app migrate down', 'app migrate up'],
      ];
      for (let i = 0; i < 5000; i++) {
        const a = text(random(3)) + text(random(4));
        // Every third pair differs only in case, where the tie-break decides.
        const b =
          i % 3 === 0
            ? [...a].map((c) => (random(2) ? c.toUpperCase() : c.toLowerCase())).join('')
            : a.slice(0, random(3)) + text(random(4));
        pairs.push([a, b]);
      }
      const wrong = pairs.filter(
        ([a, b]) =>
          Math.sign(collate(a, b)) !== Math.sign(a.localeCompare(b, 'en', { usage: 'sort', caseFirst: 'upper' })),
      );
      expect(wrong).to.deep.equal([]);
    });

    it('shows the options of a command on greet --help', async () => {
      const result = await runCommand(CliApp, ['greet', '--help']);
      expect(result.exitCode).to.equal(0);
      expect(result.stdout).to.include('Print a greeting');
      expect(result.stdout).to.match(/--name.*Who to greet/);
      expect(result.stdout).to.match(/--times.*How many greetings/);
      expect(result.stdout).to.match(/-l,--loud.*Shout/);
      expect(seen).to.deep.equal({});
    });

    it("names each option's value in help (--name NAME, or the option's valueName), never clipanion's #0", async () => {
      const pages = await Promise.all(
        [['--help'], ['greet', '--help'], ['manifest', '--help'], ['readiness', '--help']].map((argv) =>
          runCommand(CliApp, argv),
        ),
      );
      for (const page of pages) expect(page.stdout).to.not.include('#0');
      const [all, greet, manifest, readiness] = pages.map((p) => p.stdout) as [string, string, string, string];
      expect(all).to.include('cli-app greet <--name NAME> [--times TIMES]');
      expect(all).to.include('[--image IMAGE] [--replicas N]');
      expect(greet).to.match(/^ {2}--tag TAG +Tags to add$/m);
      expect(greet).to.match(/^ {2}--wait-ms MS +Wait first$/m);
      expect(greet).to.match(/^ {2}-l,--loud +Shout$/m);
      expect(manifest).to.match(/^ {2}--probes native\|exec +native/m);
      expect(readiness).to.match(/^ {2}--timeout MS +give up after/m);
    });

    it("marks required options in a command's help: in its usage line and as (required)", async () => {
      const greet = (await runCommand(CliApp, ['greet', '--help'])).stdout;
      expect(greet).to.match(/^\$ cli-app greet --name NAME$/m);
      expect(greet).to.match(/^ {2}--name NAME +Who to greet \(required\)$/m);
      expect(greet).to.match(/^ {2}--times TIMES +How many greetings$/m);
    });

    it('prints the declared version on --version and -v', async () => {
      for (const flag of ['--version', '-v']) {
        const result = await runCommand(CliApp, [flag]);
        expect(result.exitCode).to.equal(0);
        expect(result.stdout).to.equal('1.2.3\n');
      }
    });
  });

  describe('options', () => {
    it('hands the command typed values: string, number, boolean and repeated array', async () => {
      const result = await runCommand(CliApp, [
        'greet',
        '--name',
        'ada',
        '--times',
        '3',
        '-l',
        '--tag',
        'a',
        '--tag',
        'b',
      ]);
      expect(result.exitCode).to.equal(0);
      expect(seen).to.deep.equal({ name: 'ada', times: 3, loud: true, tags: ['a', 'b'] });
    });

    it('accepts --flag=value', async () => {
      const result = await runCommand(CliApp, ['greet', '--name=ada', '--times=2']);
      expect(result.exitCode).to.equal(0);
      expect(seen).to.include({ name: 'ada', times: 2 });
    });

    it('leaves the property defaults for options not given', async () => {
      await runCommand(CliApp, ['greet', '--name', 'ada']);
      expect(seen).to.deep.equal({ name: 'ada', times: 1, loud: false, tags: [] });
    });
  });
});
