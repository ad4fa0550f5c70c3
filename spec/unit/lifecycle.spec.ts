import { expect } from 'chai';
import {
  Command,
  HookError,
  HookTimeoutError,
  type LifecycleEvent,
  Main,
  Option,
  PostRun,
  PreRun,
  Run,
  Shutdown,
  type StopSignal,
} from 'dionysus';
import { FakeClock, FakeSignals, runCommand } from 'dionysus/testing';
import { aborted, EventWatch, exitErrors, never } from '../support/events.js';

/** What each hook did, in call order. */
let calls: string[] = [];
/** Per hook (`Class.method`), what it does when called; unset hooks return at once. */
let script: Record<string, (signal: AbortSignal, self: WorkCommand) => unknown> = {};
/** The AbortSignal each hook received. */
let signals: Record<string, AbortSignal> = {};

function step(name: string, signal: AbortSignal, self: WorkCommand): unknown {
  calls.push(name);
  signals[name] = signal;
  return script[name]?.(signal, self);
}

@Command('work', { description: 'A task with every kind of hook' })
class WorkCommand {
  @Option('--label')
  label: string = 'default';

  @Option('--count')
  count: number = 1;

  @PreRun({ timeoutMs: 100 })
  prepare(signal: AbortSignal): unknown {
    return step('WorkCommand.prepare', signal, this);
  }

  @PreRun({ order: 1 })
  prepareLater(signal: AbortSignal): unknown {
    return step('WorkCommand.prepareLater', signal, this);
  }

  @Run()
  run(signal: AbortSignal): unknown {
    return step('WorkCommand.run', signal, this);
  }

  @Shutdown()
  stop(signal: AbortSignal): unknown {
    return step('WorkCommand.stop', signal, this);
  }

  @PostRun()
  finish(signal: AbortSignal): unknown {
    return step('WorkCommand.finish', signal, this);
  }

  @PostRun()
  flush(signal: AbortSignal): unknown {
    return step('WorkCommand.flush', signal, this);
  }
}

@Main({ name: 'life', commands: [WorkCommand] })
class LifeApp {
  @PreRun()
  open(signal: AbortSignal): unknown {
    return step('LifeApp.open', signal, this as never);
  }

  @Shutdown()
  close(signal: AbortSignal): unknown {
    return step('LifeApp.close', signal, this as never);
  }

  @PostRun()
  release(signal: AbortSignal): unknown {
    return step('LifeApp.release', signal, this as never);
  }
}

const ALL_PRERUN = ['LifeApp.open', 'WorkCommand.prepare', 'WorkCommand.prepareLater'];
const ALL_POSTRUN = ['WorkCommand.finish', 'WorkCommand.flush', 'LifeApp.release'];

/** The user-visible hooks (framework steps left out) in the order they ended, with their outcome. */
function userHookEnds(events: readonly LifecycleEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === 'hook:end' && !e.hook.startsWith('framework.') ? [`${e.phase} ${e.hook} ${e.outcome}`] : [],
  );
}

function exitCodeOf(events: readonly LifecycleEvent[]): number | undefined {
  const exit = events.find((e) => e.type === 'exit');
  return exit?.type === 'exit' ? exit.code : undefined;
}

/** Sends `signal` once the run is running. */
function signalWhenRunning(fake: FakeSignals, signal: StopSignal = 'SIGTERM'): (e: LifecycleEvent) => void {
  return (event) => {
    if (event.type === 'state' && event.state === 'running') fake.send(signal);
  };
}

describe('lifecycle', () => {
  beforeEach(() => {
    calls = [];
    script = {};
    signals = {};
  });

  describe('a clean run', () => {
    it('runs Main PreRun, command PreRun, run, command PostRun, then Main PostRun', async () => {
      const result = await runCommand(LifeApp, ['work']);
      expect(result.exitCode).to.equal(0);
      expect(calls).to.deep.equal([...ALL_PRERUN, 'WorkCommand.run', ...ALL_POSTRUN]);
      expect(exitErrors(result.events)).to.deep.equal([]);
    });

    it('emits every phase in order and ends with the exit event', async () => {
      const result = await runCommand(LifeApp, ['work']);
      const phases = result.events.flatMap((e) =>
        e.type === 'phase:start' || e.type === 'phase:end' ? [`${e.type} ${e.phase}`] : [],
      );
      expect(phases).to.deep.equal([
        'phase:start framework',
        'phase:end framework',
        'phase:start prerun',
        'phase:end prerun',
        'phase:start run',
        'phase:end run',
        'phase:start postrun',
        'phase:end postrun',
        'phase:start framework-post',
        'phase:end framework-post',
      ]);
      const states = result.events.flatMap((e) => (e.type === 'state' ? [e.state] : []));
      expect(states).to.deep.equal(['starting', 'running', 'stopped']);
      expect(result.events.at(-1)).to.include({ type: 'exit', command: 'work', code: 0 });
      for (const event of result.events) expect(event).to.have.property('command', 'work');
    });

    it('measures each hook, phase and the whole run on the clock', async () => {
      const clock = new FakeClock();
      const wait = (ms: number) => () => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
      script['LifeApp.open'] = wait(10);
      script['WorkCommand.run'] = wait(30);
      script['WorkCommand.finish'] = wait(5);
      const watch = new EventWatch();
      const running = runCommand(LifeApp, ['work'], { clock, onEvent: watch.onEvent });

      await watch.started('LifeApp.open');
      await clock.advance(10);
      await watch.when((e) => e.type === 'state' && e.state === 'running');
      await clock.advance(30);
      await watch.started('WorkCommand.finish');
      await clock.advance(5);
      const { events, exitCode } = await running;

      expect(exitCode).to.equal(0);
      const duration = (type: string, name: string): number | undefined => {
        const event = events.find(
          (e) =>
            e.type === type &&
            ((e.type === 'hook:end' && e.hook === name) || (e.type === 'phase:end' && e.phase === name)),
        );
        return event && 'durationMs' in event ? event.durationMs : undefined;
      };
      expect(duration('hook:end', 'LifeApp.open')).to.equal(10);
      expect(duration('hook:end', 'WorkCommand.prepare')).to.equal(0);
      expect(duration('phase:end', 'prerun')).to.equal(10);
      expect(duration('phase:end', 'run')).to.equal(30);
      expect(duration('hook:end', 'WorkCommand.finish')).to.equal(5);
      expect(duration('phase:end', 'postrun')).to.equal(5);
      expect(events.at(-1)).to.include({ type: 'exit', durationMs: 45 });
    });

    it('sets parsed option values on the command before PreRun', async () => {
      const seen: unknown[] = [];
      script['WorkCommand.prepare'] = (_signal, self) => seen.push(self.label, self.count);
      const result = await runCommand(LifeApp, ['work', '--label', 'nightly', '--count', '3']);
      expect(result.exitCode).to.equal(0);
      expect(seen).to.deep.equal(['nightly', 3]);
    });

    it('keeps the property default of an option not given', async () => {
      const seen: unknown[] = [];
      script['WorkCommand.prepare'] = (_signal, self) => seen.push(self.label, self.count);
      await runCommand(LifeApp, ['work']);
      expect(seen).to.deep.equal(['default', 1]);
    });

    it('survives a listener that throws', async () => {
      const result = await runCommand(LifeApp, ['work'], {
        onEvent: () => {
          throw new Error('broken subscriber');
        },
      });
      expect(result.exitCode).to.equal(0);
      expect(calls).to.include('WorkCommand.run');
    });
  });

  describe('failures', () => {
    it('skips the run when a PreRun hook fails but still runs every PostRun hook', async () => {
      script['WorkCommand.prepare'] = () => {
        throw new Error('no database');
      };
      const result = await runCommand(LifeApp, ['work']);
      expect(result.exitCode).to.equal(1);
      expect(calls).to.deep.equal(['LifeApp.open', 'WorkCommand.prepare', ...ALL_POSTRUN]);
      const [error] = exitErrors(result.events);
      expect(error).to.be.instanceOf(HookError);
      expect(error).to.include({ hook: 'WorkCommand.prepare', phase: 'prerun' });
      expect(error?.message).to.equal('WorkCommand.prepare failed in prerun: no database');
      expect(result.stderr).to.include('WorkCommand.prepare failed in prerun: no database');
      expect(result.events.some((e) => e.type === 'phase:start' && e.phase === 'run')).to.equal(false);
    });

    it('stops PreRun at the first failure: a failing Main hook skips the command hooks', async () => {
      script['LifeApp.open'] = () => Promise.reject(new Error('config missing'));
      const result = await runCommand(LifeApp, ['work']);
      expect(result.exitCode).to.equal(1);
      expect(calls).to.deep.equal(['LifeApp.open', ...ALL_POSTRUN]);
      expect(result.stderr).to.include('LifeApp.open failed in prerun: config missing');
      const prerunEnd = result.events.find((e) => e.type === 'phase:end' && e.phase === 'prerun');
      expect(prerunEnd).to.include({ outcome: 'failed' });
    });

    it('runs every PostRun hook when some fail and reports each error', async () => {
      script['WorkCommand.finish'] = () => {
        throw new Error('finish broke');
      };
      script['LifeApp.release'] = () => Promise.reject(new Error('release broke'));
      const result = await runCommand(LifeApp, ['work']);
      expect(result.exitCode).to.equal(1);
      expect(calls.slice(-3)).to.deep.equal(ALL_POSTRUN);
      const errors = exitErrors(result.events);
      expect(errors.map((e) => e.message)).to.deep.equal([
        'WorkCommand.finish failed in postrun: finish broke',
        'LifeApp.release failed in postrun: release broke',
      ]);
      expect(result.stderr).to.include('WorkCommand.finish failed in postrun').and.include('LifeApp.release failed');
    });

    it('exits 1 naming Class.method when the run throws, after PostRun', async () => {
      const cause = new Error('disk full');
      script['WorkCommand.run'] = () => {
        throw cause;
      };
      const result = await runCommand(LifeApp, ['work']);
      expect(result.exitCode).to.equal(1);
      expect(calls.slice(-3)).to.deep.equal(ALL_POSTRUN);
      const [error] = exitErrors(result.events);
      expect(error).to.include({
        hook: 'WorkCommand.run',
        phase: 'run',
        message: 'WorkCommand.run failed in run: disk full',
      });
      expect(error?.cause).to.equal(cause);
      expect(result.events.find((e) => e.type === 'phase:end' && e.phase === 'run')).to.include({ outcome: 'failed' });
    });

    it('exits 1 when the run rejects', async () => {
      script['WorkCommand.run'] = async () => {
        throw new Error('lost connection');
      };
      const result = await runCommand(LifeApp, ['work']);
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.include('WorkCommand.run failed in run: lost connection');
    });
  });

  describe('timeouts', () => {
    it('fails a PreRun hook that never settles once its timeoutMs passes, aborting its signal', async () => {
      const clock = new FakeClock();
      script['WorkCommand.prepare'] = () => never();
      const watch = new EventWatch();
      const running = runCommand(LifeApp, ['work'], { clock, onEvent: watch.onEvent });

      await watch.started('WorkCommand.prepare');
      await clock.advance(99);
      expect(watch.seen.some((e) => e.type === 'hook:end' && e.hook === 'WorkCommand.prepare')).to.equal(false);
      expect(signals['WorkCommand.prepare']?.aborted).to.equal(false);
      await clock.advance(1);
      const result = await running;

      expect(result.exitCode).to.equal(1);
      const [error] = exitErrors(result.events);
      expect(error).to.be.instanceOf(HookTimeoutError);
      expect(error).to.include({ hook: 'WorkCommand.prepare', phase: 'prerun', timeoutMs: 100 });
      expect(error?.message).to.equal('WorkCommand.prepare did not settle within 100 ms in prerun');
      expect(result.stderr).to.include('WorkCommand.prepare did not settle within 100 ms in prerun');
      expect(signals['WorkCommand.prepare']?.aborted).to.equal(true);
      expect(signals['WorkCommand.prepare']?.reason).to.equal(error);
      expect(calls).to.deep.equal(['LifeApp.open', 'WorkCommand.prepare', ...ALL_POSTRUN]);
      expect(userHookEnds(result.events)).to.include('prerun WorkCommand.prepare timeout');
      expect(result.events.find((e) => e.type === 'phase:end' && e.phase === 'prerun')).to.include({
        outcome: 'timeout',
        durationMs: 100,
      });
    });

    it('applies the app-wide hook timeout to a hook without its own', async () => {
      const clock = new FakeClock();
      script['LifeApp.release'] = () => never();
      const watch = new EventWatch();
      const running = runCommand(LifeApp, ['work'], {
        clock,
        settings: { hooks: { timeoutMs: 250 } },
        onEvent: watch.onEvent,
      });

      await watch.started('LifeApp.release');
      await clock.advance(250);
      const result = await running;

      expect(result.exitCode).to.equal(1);
      const [error] = exitErrors(result.events);
      expect(error).to.be.instanceOf(HookTimeoutError);
      expect(error?.message).to.equal('LifeApp.release did not settle within 250 ms in postrun');
    });
  });

  describe('signals', () => {
    it('on SIGTERM aborts the run, runs Shutdown (command, then Main) and PostRun, and exits 0', async () => {
      const fake = new FakeSignals();
      let runSignal: AbortSignal | undefined;
      script['WorkCommand.run'] = async (signal) => {
        runSignal = signal;
        await aborted(signal);
        calls.push('run saw abort');
      };
      const result = await runCommand(LifeApp, ['work'], { signals: fake, onEvent: signalWhenRunning(fake) });

      expect(result.exitCode).to.equal(0);
      expect(runSignal?.aborted).to.equal(true);
      expect(calls).to.deep.equal([
        ...ALL_PRERUN,
        'WorkCommand.run',
        'run saw abort',
        'WorkCommand.stop',
        'LifeApp.close',
        ...ALL_POSTRUN,
      ]);
      const signalEvents = result.events.filter((e) => e.type === 'signal');
      expect(signalEvents).to.deep.equal([{ type: 'signal', signal: 'SIGTERM', command: 'work', forced: false }]);
      const states = result.events.flatMap((e) => (e.type === 'state' ? [e.state] : []));
      expect(states).to.deep.equal(['starting', 'running', 'stopping', 'stopped']);
      expect(exitErrors(result.events)).to.deep.equal([]);
    });

    it('runs no Shutdown hooks when the run ends by itself', async () => {
      await runCommand(LifeApp, ['work']);
      expect(calls).to.not.include('WorkCommand.stop').and.not.include('LifeApp.close');
    });

    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
      ['SIGQUIT', 131],
    ] as const) {
      it(`exits ${code} at once on a second ${signal}, even while a Shutdown hook hangs`, async () => {
        const clock = new FakeClock();
        const fake = new FakeSignals();
        script['WorkCommand.run'] = (s) => aborted(s);
        script['WorkCommand.stop'] = () => never();
        const watch = new EventWatch();
        const running = runCommand(LifeApp, ['work'], {
          clock,
          signals: fake,
          onEvent: (e) => {
            watch.onEvent(e);
            signalWhenRunning(fake, signal)(e);
          },
        });

        await watch.started('WorkCommand.stop');
        fake.send(signal);
        const result = await running;

        expect(result.exitCode).to.equal(code);
        expect(exitCodeOf(result.events)).to.equal(code);
        expect(
          result.events.filter((e) => e.type === 'signal').map((e) => e.type === 'signal' && e.forced),
        ).to.deep.equal([false, true]);
        expect(result.stderr).to.include(`second ${signal}, exiting at once`);
        expect(calls).to.not.include('LifeApp.close');
        expect(fake.listening).to.equal(false);
      });
    }

    it('fails with the hanging Shutdown hook named when the shutdown budget runs out, then runs PostRun', async () => {
      const clock = new FakeClock();
      const fake = new FakeSignals();
      script['WorkCommand.run'] = (s) => aborted(s);
      script['WorkCommand.stop'] = () => never();
      const watch = new EventWatch();
      const running = runCommand(LifeApp, ['work'], {
        clock,
        signals: fake,
        settings: { shutdown: { timeoutMs: 500 } },
        onEvent: (e) => {
          watch.onEvent(e);
          signalWhenRunning(fake)(e);
        },
      });

      await watch.started('WorkCommand.stop');
      await clock.advance(499);
      expect(watch.seen.some((e) => e.type === 'exit')).to.equal(false);
      await clock.advance(1);
      const result = await running;

      expect(result.exitCode).to.equal(1);
      const [error] = exitErrors(result.events);
      expect(error).to.be.instanceOf(HookTimeoutError);
      expect(error).to.include({ hook: 'WorkCommand.stop', phase: 'shutdown', timeoutMs: 500 });
      expect(result.stderr).to.include('WorkCommand.stop');
      expect(result.stderr).to.include('shutdown budget');
      expect(calls.slice(-3)).to.deep.equal(ALL_POSTRUN);
    });

    it('runs no more Shutdown hooks once the shutdown budget is spent, and aborts the hanging one', async () => {
      const clock = new FakeClock();
      const fake = new FakeSignals();
      // The run takes 200 ms to stop: the hook's own 400 ms fit in the budget, what is left of it does not.
      script['WorkCommand.run'] = async (s) => {
        await aborted(s);
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 200));
      };
      script['WorkCommand.stop'] = () => never();
      const watch = new EventWatch();
      const running = runCommand(LifeApp, ['work'], {
        clock,
        signals: fake,
        settings: { shutdown: { timeoutMs: 500 }, hooks: { timeoutMs: 400 } },
        onEvent: (e) => {
          watch.onEvent(e);
          signalWhenRunning(fake)(e);
        },
      });

      await watch.when((e) => e.type === 'signal');
      await clock.advance(200);
      await watch.started('WorkCommand.stop');
      await clock.advance(300);
      const result = await running;
      expect(signals['WorkCommand.stop']?.aborted).to.equal(true);
      // The hanging hook's own deadline passes after the run has exited.
      await clock.advance(2_000);

      expect(result.exitCode).to.equal(1);
      expect(calls).to.not.include('LifeApp.close');
      expect(calls.at(-1)).to.equal('LifeApp.release');
      const afterExit = watch.seen.slice(watch.seen.findIndex((e) => e.type === 'exit') + 1);
      expect(afterExit).to.deep.equal([]);
      expect(exitErrors(result.events)).to.have.length(1);
      expect(userHookEnds(result.events)).to.include('shutdown WorkCommand.stop timeout');
    });

    it('names the run when it ignores its AbortSignal past the shutdown budget', async () => {
      const clock = new FakeClock();
      const fake = new FakeSignals();
      script['WorkCommand.run'] = () => never();
      const watch = new EventWatch();
      const running = runCommand(LifeApp, ['work'], {
        clock,
        signals: fake,
        settings: { shutdown: { timeoutMs: 300 } },
        onEvent: (e) => {
          watch.onEvent(e);
          signalWhenRunning(fake)(e);
        },
      });

      await watch.when((e) => e.type === 'signal');
      await clock.advance(300);
      const result = await running;

      expect(result.exitCode).to.equal(1);
      const [error] = exitErrors(result.events);
      expect(error).to.include({ hook: 'WorkCommand.run', phase: 'shutdown' });
      expect(calls).to.not.include('WorkCommand.stop');
      expect(calls.slice(-3)).to.deep.equal(ALL_POSTRUN);
    });

    it('skips the run on a signal during PreRun and still runs PostRun', async () => {
      const fake = new FakeSignals();
      script['LifeApp.open'] = () => fake.send('SIGINT');
      const result = await runCommand(LifeApp, ['work'], { signals: fake });

      expect(result.exitCode).to.equal(0);
      expect(calls).to.deep.equal(['LifeApp.open', ...ALL_POSTRUN]);
      expect(result.events.some((e) => e.type === 'phase:start' && e.phase === 'run')).to.equal(false);
      expect(result.events.some((e) => e.type === 'state' && e.state === 'running')).to.equal(false);
    });

    it('treats an AbortError from the stopped run as a clean stop', async () => {
      const fake = new FakeSignals();
      script['WorkCommand.run'] = async (s) => {
        await aborted(s);
        s.throwIfAborted();
      };
      const result = await runCommand(LifeApp, ['work'], { signals: fake, onEvent: signalWhenRunning(fake) });
      expect(result.exitCode).to.equal(0);
      expect(exitErrors(result.events)).to.deep.equal([]);
    });

    it('exits 1 when the run fails while stopping', async () => {
      const fake = new FakeSignals();
      script['WorkCommand.run'] = async (s) => {
        await aborted(s);
        throw new Error('crashed while stopping');
      };
      const result = await runCommand(LifeApp, ['work'], { signals: fake, onEvent: signalWhenRunning(fake) });
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.include('WorkCommand.run failed in run: crashed while stopping');
    });
  });
});
