import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import { type Exit, fixture, killChildren, node, SAMPLE, stackLines } from './child.js';

/** How often `text` occurs in `within`. */
function occurrences(within: string, text: string): number {
  return within.split(text).length - 1;
}

/** The JSON log lines a process wrote, wherever its logs go (stdout for servers, stderr for tasks). */
function logRecords(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

// Fixture apps (spec/fixtures/) that fail on purpose, run as real processes.
describe('a failing app as a process', () => {
  afterEach(killChildren);

  describe('a Shutdown hook that never settles', () => {
    const HANG = fixture('hanging-shutdown');

    /** Runs `command` with a shutdown budget of `budgetMs`, sends SIGTERM once it waits; the exit and the ms it took. */
    async function stopWithin(command: string, budgetMs: number): Promise<{ exit: Exit; elapsed: number }> {
      const child = node(HANG, [command], { env: { FIXTURE_SHUTDOWN_TIMEOUT_MS: String(budgetMs) } });
      await child.waitForLine('waiting');
      const sent = performance.now();
      child.signal('SIGTERM');
      const exit = await child.waitForExit(5_000);
      return { exit, elapsed: performance.now() - sent };
    }

    it('is cut off by the shutdown budget: exit 1 naming the hook, PostRun still runs', async () => {
      const { exit, elapsed } = await stopWithin('hang', 300);
      expect(exit.code).to.equal(1);
      expect(exit.stderr).to.include('HangCommand.closeForever').and.to.include('shutdown budget');
      expect(exit.lines).to.deep.equal(['waiting', 'shutdown hanging', 'command postrun', 'main postrun']);
      expect(elapsed, 'waits out the 300 ms budget, then stops').to.be.within(250, 3_000);
    });

    it('a hung PostRun hook after SIGTERM is cut off inside the same budget: exit 1 naming the hook', async () => {
      // The hook's own deadline (the default 15 s) is far past the budget: the budget is what ends it.
      const { exit, elapsed } = await stopWithin('hang-postrun', 600);
      expect(exit.code).to.equal(1);
      expect(exit.lines).to.deep.equal(['waiting', 'shutdown done', 'postrun hanging', 'main postrun']);
      expect(exit.stderr).to.include(
        'HangPostRunCommand.releaseForever was still running when the shutdown budget of 600 ms ran out',
      );
      const failed = logRecords(exit.stderr).find((line) => line.hook === 'HangPostRunCommand.releaseForever');
      expect(failed).to.include({ level: 'error', phase: 'postrun', outcome: 'timeout' });
      // Counted from the signal: the whole stop, PostRun included, ends with the budget.
      expect(elapsed, 'exits once the 600 ms budget is spent').to.be.within(550, 2_000);
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

  it('says why a run failed once per message: on stderr, and in the log line of the failed hook', async () => {
    const exit = await node(fixture('failing-run'), ['report', '--format', 'xml']).waitForExit();
    expect(exit.code).to.equal(1);
    const reported = exit.stderr.split('\n').filter((line) => line.startsWith('reports report: '));
    expect(reported).to.deep.equal(['reports report: ReportCommand.run failed in run: unknown format xml']);
    const records = logRecords(exit.stdout + exit.stderr);
    const failed = records.find((record) => record.hook === 'ReportCommand.run' && record.outcome === 'failed');
    expect(failed?.msg).to.equal('ReportCommand.run failed in run: unknown format xml');
    for (const record of records) {
      expect(occurrences(JSON.stringify(record), 'unknown format xml'), JSON.stringify(record)).to.be.at.most(1);
    }
    // Where it was thrown is still logged, as stack frames.
    expect(failed?.err).to.include({ type: 'HookError' });
    expect(failed?.err)
      .to.have.property('stack')
      .that.matches(/^at .*ReportCommand\.run/);
  });

  describe('a port already in use', () => {
    let taken: Server;
    let port: number;

    beforeEach(async () => {
      taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      port = (taken.address() as { port: number }).port;
    });

    afterEach(() => new Promise<void>((resolve) => taken.close(() => resolve())));

    const servers = [
      ['http', 'http', 'HTTP_PORT'],
      ['grpc', 'grpc', 'GRPC_PORT'],
      ['ctl', 'admin', 'ADMIN_PORT'],
    ] as const;
    for (const [command, server, variable] of servers) {
      it(`names the address and the setting that holds the ${server} port (${variable}, dionysus.${server}.port)`, async () => {
        const exit = await node(SAMPLE, [command], {
          env: {
            HTTP_PORT: '0',
            GRPC_PORT: '0',
            ADMIN_PORT: '0',
            [variable]: String(port),
            NODE_CONFIG: JSON.stringify({ dionysus: { [server]: { host: '127.0.0.1' } } }),
          },
        }).waitForExit();
        expect(exit.code).to.equal(1);
        expect(exit.stderr).to.include(
          `${server} server cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE); its port is set by ${variable} or dionysus.${server}.port`,
        );
        expect(stackLines(exit.stderr)).to.deep.equal([]);
      });
    }
  });

  it('names each @Controller and @GrpcService that the app declares but no command lists, and still runs', async () => {
    const exit = await node(fixture('unlisted-parts'), ['noop']).waitForExit();
    expect(exit.code).to.equal(0);
    expect(exit.lines).to.deep.equal(['ran']);
    expect(exit.stderr.split('\n').filter((line) => line.includes('warning'))).to.deep.equal([
      "unlisted: warning: OrdersController: a @Controller that no command lists in controllers, so its routes are never served; add it to @Command('http', { controllers: [OrdersController] }).",
      "unlisted: warning: OrdersService: a @GrpcService that no command lists in services, so it is never served; add it to @Command('grpc', { services: [OrdersService] }).",
    ]);
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
      "Database: constructor parameter #1 asks for token 'DATABASE_URL', which no provider binds",
      'IdleCommand: constructor parameter #1 has type String',
    ]) {
      expect(exit.stderr).to.include(problem);
    }
    expect(stackLines(exit.stderr)).to.deep.equal([]);
  });
});
