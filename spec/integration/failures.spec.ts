import { expect } from 'chai';
import { fixture, killChildren, node, stackLines } from './child.js';

// Fixture apps (spec/fixtures/) that fail on purpose, run as real processes.
describe('a failing app as a process', () => {
  afterEach(killChildren);

  describe('a Shutdown hook that never settles', () => {
    const HANG = fixture('hanging-shutdown');

    it('is cut off by the shutdown budget: exit 1 naming the hook, PostRun still runs', async () => {
      const child = node(HANG, ['hang'], { env: { FIXTURE_SHUTDOWN_TIMEOUT_MS: '300' } });
      await child.waitForLine('waiting');
      const sent = performance.now();
      child.signal('SIGTERM');
      const exit = await child.waitForExit(5_000);
      const elapsed = performance.now() - sent;
      expect(exit.code).to.equal(1);
      expect(exit.stderr).to.include('HangCommand.closeForever').and.to.include('shutdown budget');
      expect(exit.lines).to.deep.equal(['waiting', 'shutdown hanging', 'command postrun', 'main postrun']);
      expect(elapsed, 'waits out the 300 ms budget, then stops').to.be.within(250, 3_000);
    });

    const forced = [
      ['SIGINT', 'SIGINT', 130],
      ['SIGTERM', 'SIGTERM', 143],
      ['SIGTERM', 'SIGQUIT', 131],
    ] as const;
    for (const [first, second, code] of forced) {
      it(`exits at once with ${code} on ${first} then ${second} during shutdown`, async () => {
        const child = node(HANG, ['hang'], { env: { FIXTURE_SHUTDOWN_TIMEOUT_MS: '60000' } });
        await child.waitForLine('waiting');
        child.signal(first);
        await child.waitForLine('shutdown hanging');
        child.signal(second);
        const exit = await child.waitForExit(5_000);
        expect(exit.code).to.equal(code);
        expect(exit.stderr).to.include(`second ${second}`);
        expect(exit.lines, 'a forced exit skips PostRun').to.deep.equal(['waiting', 'shutdown hanging']);
      });
    }
  });

  it('exits 1 when a PreRun hook throws, naming Class.method and prerun, and still runs PostRun', async () => {
    const exit = await node(fixture('failing-prerun'), ['connect']).waitForExit();
    expect(exit.code).to.equal(1);
    expect(exit.stderr)
      .to.include('ConnectCommand.openDatabase')
      .and.to.include('prerun')
      .and.to.include('database unreachable');
    expect(exit.lines).to.deep.equal(['main prerun', 'command prerun', 'command postrun', 'main postrun']);
  });

  it('exits 1 listing every plan problem at once, before any hook runs', async () => {
    const exit = await node(fixture('plan-errors'), ['twice']).waitForExit();
    expect(exit.code).to.equal(1);
    expect(exit.lines).to.deep.equal([]);
    expect(exit.stderr).to.include("7 problems in the app's decorators");
    for (const problem of [
      'TwiceCommand: 2 @Run methods (first, second)',
      'IdleCommand: a task (no server) needs one @Run() method',
      'IdleCommand.name: @Option flag "name"',
      'PlainClass: listed in @Main commands but has no @Command(name) decorator',
      "DuplicateCommand: command name 'twice' is already used by TwiceCommand",
      'Database.connect: lifecycle hooks run only on the @Main class or a @Command class',
      'IdleCommand: constructor parameter #1 has type String',
    ]) {
      expect(exit.stderr).to.include(problem);
    }
    expect(stackLines(exit.stderr)).to.deep.equal([]);
  });
});
