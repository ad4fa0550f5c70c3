import { context, propagation, trace } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { expect } from 'chai';
import { Command, HookTimeoutError, type LifecycleEvent, Main, PostRun, Run, Shutdown } from 'dionysus';
import { FakeClock, FakeSignals, type RunResult, runCommand } from 'dionysus/testing';
import { aborted, EventWatch, exitErrors, never } from '../support/events.js';

/** Per hook (`Class.method`), what it does; unset hooks return at once. */
let script: Record<string, (signal: AbortSignal) => unknown> = {};
let calls: string[] = [];

function step(name: string, signal: AbortSignal): unknown {
  calls.push(name);
  return script[name]?.(signal);
}

@Command('serve', { description: 'Runs until stopped' })
class ServeCommand {
  @Run()
  run(signal: AbortSignal): unknown {
    return step('ServeCommand.run', signal);
  }

  @Shutdown()
  close(signal: AbortSignal): unknown {
    return step('ServeCommand.close', signal);
  }

  @PostRun({ timeoutMs: 400 })
  release(signal: AbortSignal): unknown {
    return step('ServeCommand.release', signal);
  }
}

@Command('slow-exit', { description: 'A PostRun hook that needs 30 s' })
class SlowExitCommand {
  @Run()
  run(): void {}

  @PostRun({ timeoutMs: 30_000 })
  archive(): void {}
}

@Main({ name: 'budget', commands: [ServeCommand, SlowExitCommand] })
class BudgetApp {
  @PostRun()
  flush(signal: AbortSignal): unknown {
    return step('BudgetApp.flush', signal);
  }
}

/** An exporter whose exports never complete: a collector that stopped answering. */
class HangingExporter implements SpanExporter {
  readonly #pending: ((result: ExportResult) => void)[] = [];
  export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#pending.push(done);
  }
  async shutdown(): Promise<void> {}
  /** Answers every export: the abandoned flush can end. */
  release(): void {
    for (const done of this.#pending.splice(0)) done({ code: 0 });
  }
}

function wait(clock: FakeClock, ms: number): () => Promise<void> {
  return () => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
}

function exitOf(events: readonly LifecycleEvent[]): LifecycleEvent | undefined {
  return events.find((e) => e.type === 'exit');
}

/** Runs `serve` on a fake clock and sends SIGTERM once it runs. */
function serve(clock: FakeClock, extra: { spanExporter?: SpanExporter; timeoutMs?: number } = {}) {
  const signals = new FakeSignals();
  const watch = new EventWatch();
  const running = runCommand(BudgetApp, ['serve'], {
    clock,
    signals,
    settings: { shutdown: { timeoutMs: extra.timeoutMs ?? 500 } },
    ...(extra.spanExporter ? { spanExporter: extra.spanExporter, env: {} } : {}),
    onEvent: (event) => {
      watch.onEvent(event);
      if (event.type === 'state' && event.state === 'running') signals.send('SIGTERM');
    },
  });
  return { running, watch };
}

/** Advances to 1 ms before what is left of the budget (no exit yet), then to its end: exit 1, and its first error. */
async function exitsWhenSpent(
  clock: FakeClock,
  watch: EventWatch,
  running: Promise<RunResult>,
  leftMs: number,
): Promise<{ result: RunResult; error: Error | undefined }> {
  await clock.advance(leftMs - 1);
  expect(exitOf(watch.seen), 'no exit before the budget is spent').to.equal(undefined);
  await clock.advance(1);
  const result = await running;
  expect(result.exitCode).to.equal(1);
  return { result, error: exitErrors(result.events)[0] };
}

describe('the shutdown budget, from the first signal to the exit', () => {
  beforeEach(() => {
    script = {};
    calls = [];
  });

  it('cuts off a hung PostRun hook when the budget runs out, though its own deadline is later, and exits 1', async () => {
    const clock = new FakeClock();
    script['ServeCommand.run'] = async (signal) => {
      await aborted(signal);
      await wait(clock, 200)();
    };
    script['ServeCommand.close'] = wait(clock, 100);
    script['ServeCommand.release'] = () => never();
    const { running, watch } = serve(clock);

    await watch.when((e) => e.type === 'signal');
    await clock.advance(200);
    await watch.started('ServeCommand.close');
    await clock.advance(100);
    await watch.started('ServeCommand.release');
    // 300 ms of the budget are spent; the hook's own 400 ms would end at 700.
    const { result, error } = await exitsWhenSpent(clock, watch, running, 200);
    expect(error).to.be.instanceOf(HookTimeoutError);
    expect(error).to.include({ hook: 'ServeCommand.release', phase: 'postrun', timeoutMs: 500 });
    expect(error?.message).to.equal(
      'ServeCommand.release was still running when the shutdown budget of 500 ms ran out',
    );
    expect(exitErrors(result.events)).to.have.length(1);
    // The rest of PostRun is still called, with the budget's aborted signal.
    expect(calls.at(-1)).to.equal('BudgetApp.flush');
    expect(exitOf(result.events)).to.include({ durationMs: 500 });
  });

  it('counts the telemetry flush in the budget: a hung span export is named and the run exits 1 at the budget', async () => {
    const clock = new FakeClock();
    script['ServeCommand.run'] = (signal) => aborted(signal);
    const exporter = new HangingExporter();
    const { running, watch } = serve(clock, { spanExporter: exporter });
    try {
      await watch.when(
        (e) => e.type === 'hook:start' && e.hook === 'framework.tracing' && e.phase === 'framework-post',
      );
      const { result, error } = await exitsWhenSpent(clock, watch, running, 500);
      expect(error).to.include({ hook: 'framework.tracing', phase: 'framework-post', timeoutMs: 500 });
      expect(error?.message).to.include('shutdown budget of 500 ms ran out');
      // The logger, which stops after tracing, still says it.
      expect(result.stderr).to.include('framework.tracing was still running when the shutdown budget');
    } finally {
      // A process would have exited; in-process, let the abandoned flush end and release the SDK's globals.
      exporter.release();
      await new Promise((resolve) => setImmediate(resolve));
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });

  it('bounds PostRun of a run that ends by itself by the hook deadlines only, as there was no signal', async () => {
    const clock = new FakeClock();
    // Main's PostRun hook has the default deadline (15 s): it may take longer than the 500 ms budget.
    script['BudgetApp.flush'] = wait(clock, 800);
    const watch = new EventWatch();
    const running = runCommand(BudgetApp, ['serve'], {
      clock,
      settings: { shutdown: { timeoutMs: 500 } },
      onEvent: watch.onEvent,
    });
    await watch.started('BudgetApp.flush');
    await clock.advance(800);
    const result = await running;
    expect(result.exitCode).to.equal(0);
    expect(exitErrors(result.events)).to.deep.equal([]);
  });

  describe('deadlines that cannot fit, refused before anything starts', () => {
    it('refuses dionysus.hooks.timeoutMs longer than the budget leaves, naming both settings', async () => {
      const result = await runCommand(BudgetApp, ['serve'], {
        settings: { shutdown: { timeoutMs: 1_000 }, hooks: { timeoutMs: 2_000 } },
      });
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.include('dionysus.hooks.timeoutMs (2000 ms, from the config option) cannot fit');
      expect(result.stderr).to.include('dionysus.shutdown.timeoutMs (1000 ms');
      expect(calls).to.deep.equal([]);
    });

    it("refuses a PostRun hook's own timeoutMs longer than the budget, naming Class.method", async () => {
      const result = await runCommand(BudgetApp, ['slow-exit']);
      expect(result.exitCode).to.equal(1);
      expect(result.stderr).to.include('SlowExitCommand.archive: timeoutMs 30000 ms cannot fit in the shutdown budget');
      expect(result.stderr).to.include('raise dionysus.shutdown.timeoutMs');
    });
  });
});
