import type { Container } from 'inversify';
import type { FrameworkSettings } from '../config/defaults.js';
import { type HookOwner, resolveOwners, startedOwners } from '../container/owners.js';
import { HookError, HookTimeoutError, isAbortError } from '../errors.js';
import type { AppPlan, CommandPlan, HookPhase, HookPlan } from '../plan/types.js';
import { type Clock, sleep } from './clock.js';
import type { LifecycleEvents, Outcome, Phase } from './events.js';
import type { RunHandle, ServerRunner } from './runner.js';
import { SIGNAL_NUMBERS, type SignalSource, type StopSignal } from './signals.js';

/** What a framework step (logger, config, tracing, metrics) gets when it starts. */
export interface StepContext {
  readonly plan: AppPlan;
  readonly command: CommandPlan;
  readonly container: Container;
  readonly events: LifecycleEvents;
  /** Mutable: the config step fills it before any user hook runs. */
  settings: FrameworkSettings;
  /** Set by a step (tracing) to run every later hook inside its own context. */
  aroundHook?: <T>(hook: string, phase: Phase, fn: () => T) => T;
}

export interface FrameworkStep {
  readonly name: string;
  start(context: StepContext): Promise<void> | void;
  /** Called at exit only when `start` succeeded. */
  stop?(): Promise<void> | void;
}

export interface LifecycleOptions {
  readonly plan: AppPlan;
  readonly command: CommandPlan;
  readonly container: Container;
  readonly events: LifecycleEvents;
  readonly clock: Clock;
  readonly signals: SignalSource;
  readonly settings: FrameworkSettings;
  /** In start order; stopped in `postOrder` (names), the rest in reverse. */
  readonly steps: readonly FrameworkStep[];
  readonly postOrder?: readonly string[];
  /** Loaded on demand, so a task never loads a server. */
  readonly runner: () => Promise<ServerRunner> | ServerRunner;
  /** Parsed option values, set on the command instance before PreRun. */
  readonly optionValues?: Readonly<Record<string, unknown>>;
}

/**
 * Runs one command through the lifecycle and resolves to its exit code:
 * framework steps → PreRun → run → (signal → drain → Shutdown) → PostRun →
 * framework post steps. Never throws; every error is collected and reported
 * in the `exit` event.
 */
export async function runLifecycle(options: LifecycleOptions): Promise<number> {
  const { events, clock, command } = options;
  const started = clock.now();
  const errors: Error[] = [];
  const stopRequested = new AbortController();
  let firstSignal: StopSignal | undefined;
  let force!: (code: number) => void;
  const forced = new Promise<number>((resolve) => {
    force = resolve;
  });

  const unsubscribe = options.signals.subscribe((signal) => {
    if (firstSignal === undefined) {
      firstSignal = signal;
      events.emit({ type: 'signal', signal, command: command.name, forced: false });
      if (events.state === 'starting' || events.state === 'running') {
        events.emit({ type: 'state', state: 'stopping', command: command.name });
      }
      stopRequested.abort();
    } else {
      events.emit({ type: 'signal', signal, command: command.name, forced: true });
      force(128 + SIGNAL_NUMBERS[signal]);
    }
  });

  const run = new Run(options, errors, stopRequested.signal);
  const code = await Promise.race([run.execute().then(() => (errors.length > 0 ? 1 : 0)), forced]);
  unsubscribe();
  events.emit({ type: 'exit', command: command.name, code, durationMs: clock.now() - started, errors });
  return code;
}

/** One run's state; split from runLifecycle so each phase reads as a method. */
class Run {
  readonly #o: LifecycleOptions;
  readonly #errors: Error[];
  readonly #stop: AbortSignal;
  readonly #context: StepContext;
  readonly #startedSteps: FrameworkStep[] = [];
  #owners: readonly HookOwner[] = [];

  constructor(options: LifecycleOptions, errors: Error[], stop: AbortSignal) {
    this.#o = options;
    this.#errors = errors;
    this.#stop = stop;
    this.#context = {
      plan: options.plan,
      command: options.command,
      container: options.container,
      events: options.events,
      settings: options.settings,
    };
  }

  get #settings(): FrameworkSettings {
    return this.#context.settings;
  }

  async execute(): Promise<void> {
    const { events, command } = this.#o;
    events.emit({ type: 'state', state: 'starting', command: command.name });
    if (await this.#frameworkPre()) {
      const owners = await this.#resolve();
      if (owners) {
        // PreRun owner by owner; PostRun, in reverse, only for the owners that started.
        let reached = 0;
        const ready = await this.#hooks('prerun', hookList(owners, 'prerun'), { onHook: () => reached++ });
        const cmd = (owners.at(-1) as HookOwner).instance;
        if (ready && !this.#stop.aborted) await this.#runAndWait(cmd);
        const started = startedOwners(owners, ready ? reached : reached - 1);
        await this.#hooks('postrun', hookList([...started].reverse(), 'postrun'), { continueOnError: true });
      }
    }
    await this.#frameworkPost();
    events.emit({ type: 'state', state: 'stopped', command: command.name });
  }

  async #frameworkPre(): Promise<boolean> {
    const ok = await this.#phase('framework', async () => {
      for (const step of this.#o.steps) {
        const error = await this.#invoke(`framework.${step.name}`, 'framework', this.#settings.hooks.timeoutMs, () =>
          step.start(this.#context),
        );
        if (error) return false;
        this.#startedSteps.push(step);
      }
      return true;
    });
    return ok === true;
  }

  async #frameworkPost(): Promise<void> {
    const order = this.#o.postOrder ?? [];
    const rank = (s: FrameworkStep): number => {
      const i = order.indexOf(s.name);
      return i >= 0 ? i : order.length + (this.#startedSteps.length - this.#startedSteps.indexOf(s));
    };
    const steps = [...this.#startedSteps].sort((a, b) => rank(a) - rank(b));
    await this.#phase('framework-post', async () => {
      for (const step of steps) {
        if (!step.stop) continue;
        await this.#invoke(`framework.${step.name}`, 'framework-post', this.#settings.hooks.timeoutMs, () =>
          step.stop?.(),
        );
      }
    });
  }

  async #resolve(): Promise<readonly HookOwner[] | undefined> {
    const { container, plan, command, optionValues, clock } = this.#o;
    try {
      const owners = await resolveOwners({
        container,
        plan,
        command,
        clock,
        timeoutMs: this.#settings.hooks.timeoutMs,
      });
      const cmd = (owners.at(-1) as HookOwner).instance as Record<string, unknown>;
      for (const [key, value] of Object.entries(optionValues ?? {})) if (value !== undefined) cmd[key] = value;
      this.#owners = owners;
      return owners;
    } catch (error) {
      this.#errors.push(error as Error);
      return undefined;
    }
  }

  /** PreRun hooks stop at the first failure; PostRun and Shutdown hooks all run. */
  async #hooks(
    phase: Phase,
    hooks: readonly (readonly [HookPlan, object])[],
    {
      continueOnError = false,
      onHook,
      until,
    }: { continueOnError?: boolean; onHook?: (name: string) => void; until?: AbortSignal } = {},
  ): Promise<boolean> {
    if (hooks.length === 0) return true;
    const ok = await this.#phase(phase, async () => {
      let allOk = true;
      for (const [hook, instance] of hooks) {
        if ((!continueOnError && this.#stop.aborted) || until?.aborted) break;
        onHook?.(hook.name);
        const error = await this.#invoke(
          hook.name,
          phase,
          hook.timeoutMs ?? this.#settings.hooks.timeoutMs,
          (signal) => (instance as Record<string, (s: AbortSignal) => unknown>)[hook.method]?.(signal),
          until,
        );
        if (error) {
          allOk = false;
          if (!continueOnError) break;
        }
      }
      return allOk;
    });
    return ok === true;
  }

  /**
   * Starts the run and waits for it to end or for a stop signal. A `@Run`
   * method is one hook from call to settle; a server's hook is its start
   * (listening), under the hook deadline.
   */
  async #runAndWait(instance: object): Promise<void> {
    const { events, command, clock } = this.#o;
    const runAbort = new AbortController();
    const start = clock.now();
    const before = this.#errors.length;
    events.emit({ type: 'phase:start', phase: 'run', command: command.name });
    let handle: RunHandle | undefined;
    // A @Run method is the hook (`Cls.run`); a server's hook is named by its runner, e.g. `Cls (http server)`.
    let label = command.run ? `${command.cls.name}.${command.run}` : `${command.cls.name} (${command.server} server)`;
    const startRun = async (runner: ServerRunner): Promise<void> => {
      const context = {
        plan: this.#o.plan,
        command,
        instance,
        container: this.#o.container,
        events,
        settings: this.#settings,
        clock,
        signal: runAbort.signal,
      };
      handle = await runner.start(context);
    };
    if (command.run) {
      events.emit({ type: 'hook:start', phase: 'run', hook: label, command: command.name });
      try {
        const runner = await this.#o.runner();
        const around = this.#context.aroundHook;
        await (around ? around(label, 'run', () => startRun(runner)) : startRun(runner));
      } catch (error) {
        this.#errors.push(asHookError(label, 'run', error));
      }
    } else {
      let runner: ServerRunner | undefined;
      let failure: unknown;
      try {
        runner = await this.#o.runner();
        label = `${command.cls.name} (${runner.label})`;
      } catch (error) {
        failure = error;
      }
      // The hook's name is known before it starts: its events and its span carry the same one.
      await this.#invoke(label, 'run', this.#settings.hooks.timeoutMs, () => {
        if (!runner) throw failure;
        return startRun(runner);
      });
    }
    if (handle) {
      if (!this.#stop.aborted) events.emit({ type: 'state', state: 'running', command: command.name });
      await this.#waitForEnd(handle, runAbort, label);
    }
    const durationMs = clock.now() - start;
    const outcome = this.#outcomeSince(before);
    if (command.run) {
      const error = this.#errors.slice(before).find((e) => e instanceof HookError && e.hook === label);
      events.emit({
        type: 'hook:end',
        phase: 'run',
        hook: label,
        command: command.name,
        durationMs,
        outcome: error ? 'failed' : 'ok',
        ...(error ? { error } : {}),
      });
    }
    events.emit({ type: 'phase:end', phase: 'run', command: command.name, durationMs, outcome });
  }

  async #waitForEnd(handle: RunHandle, runAbort: AbortController, label: string): Promise<void> {
    type Ending = { kind: 'ended'; error?: unknown } | { kind: 'signal' };
    const ended = handle.ended.then(
      (): Ending => ({ kind: 'ended' }),
      (error: unknown): Ending => ({ kind: 'ended', error: error ?? new Error('rejected without a reason') }),
    );
    const stopped = new Promise<Ending>((resolve) => {
      if (this.#stop.aborted) resolve({ kind: 'signal' });
      else this.#stop.addEventListener('abort', () => resolve({ kind: 'signal' }), { once: true });
    });
    const first = await Promise.race([ended, stopped]);
    if (first.kind === 'ended') {
      if (first.error !== undefined) this.#errors.push(asHookError(label, 'run', first.error));
    } else {
      await this.#shutdown(handle, runAbort, ended, label);
    }
    await handle.close?.();
  }

  /** Drain delay → drain → abort the run → Shutdown hooks, all within the shutdown budget. */
  async #shutdown(
    handle: RunHandle,
    runAbort: AbortController,
    ended: Promise<{ kind: string; error?: unknown }>,
    label: string,
  ): Promise<void> {
    const { clock } = this.#o;
    const budgetMs = this.#settings.shutdown.timeoutMs;
    const budget = new AbortController();
    let current = 'the drain delay';
    const timer = clock.setTimeout(
      () =>
        budget.abort(
          new HookTimeoutError(
            current,
            'shutdown',
            budgetMs,
            `${current} was still running when the shutdown budget of ${budgetMs} ms ran out`,
          ),
        ),
      budgetMs,
    );
    const sequence = (async () => {
      await this.#phase('drain', async () => {
        if (handle.drain) {
          await sleep(clock, this.#settings.shutdown.drainDelayMs, budget.signal);
          current = `${label} draining`;
          await handle.drain(budget.signal);
        }
        current = label;
        runAbort.abort();
        const outcome = await ended;
        if (outcome.error !== undefined && !isAbortError(outcome.error)) {
          this.#errors.push(asHookError(label, 'run', outcome.error));
        }
      });
      // A run that ended after the budget was spent: the lifecycle has moved on to PostRun.
      if (budget.signal.aborted) return;
      await this.#hooks(
        'shutdown',
        hookList([...this.#owners].reverse(), 'shutdown'),
        // Past the budget no further hook starts and the hanging one is aborted.
        { continueOnError: true, onHook: (name) => (current = name), until: budget.signal },
      );
    })();
    const spent = new Promise<'spent'>((resolve) => budget.signal.addEventListener('abort', () => resolve('spent')));
    const result = await Promise.race([sequence.then(() => 'done' as const), spent]);
    clock.clearTimeout(timer);
    if (result === 'spent') {
      this.#errors.push(budget.signal.reason as HookTimeoutError);
      runAbort.abort();
    }
  }

  async #phase<T>(phase: Phase, work: () => Promise<T>): Promise<T> {
    const { events, clock, command } = this.#o;
    const start = clock.now();
    events.emit({ type: 'phase:start', phase, command: command.name });
    const before = this.#errors.length;
    const result = await work();
    events.emit({
      type: 'phase:end',
      phase,
      command: command.name,
      durationMs: clock.now() - start,
      outcome: this.#outcomeSince(before),
    });
    return result;
  }

  #outcomeSince(before: number): Outcome {
    const added = this.#errors.slice(before);
    if (added.length === 0) return 'ok';
    return added.some((e) => e instanceof HookTimeoutError) ? 'timeout' : 'failed';
  }

  /**
   * Calls one hook under its deadline; returns its error, already collected.
   * When `until` aborts (a spent shutdown budget), the hook's signal fires
   * with its reason and the wait ends; the owner of `until` reports it.
   */
  async #invoke(
    nameOf: string | (() => string),
    phase: Phase,
    timeoutMs: number,
    fn: (signal: AbortSignal) => unknown,
    until?: AbortSignal,
  ): Promise<Error | undefined> {
    const { events, clock, command } = this.#o;
    const name = (): string => (typeof nameOf === 'string' ? nameOf : nameOf());
    const abort = new AbortController();
    const start = clock.now();
    events.emit({ type: 'hook:start', phase, hook: name(), command: command.name });
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = clock.setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const cancelled = new Promise<'cancelled'>((resolve) =>
      until?.addEventListener('abort', () => resolve('cancelled'), { once: true }),
    );
    let error: Error | undefined;
    let reported = false;
    try {
      const around = this.#context.aroundHook;
      const work = Promise.resolve().then(() =>
        around ? around(name(), phase, () => fn(abort.signal)) : fn(abort.signal),
      );
      const settled = await Promise.race([work.then(() => 'ok' as const), timedOut, cancelled]);
      if (settled === 'timeout') {
        error = new HookTimeoutError(name(), phase, timeoutMs);
        abort.abort(error);
      } else if (settled === 'cancelled') {
        error = until?.reason as Error;
        reported = true;
        abort.abort(error);
      }
    } catch (cause) {
      error = asHookError(name(), phase, cause);
    } finally {
      clock.clearTimeout(timer);
    }
    if (error && !reported) this.#errors.push(error);
    events.emit({
      type: 'hook:end',
      phase,
      hook: name(),
      command: command.name,
      durationMs: clock.now() - start,
      outcome: error ? (error instanceof HookTimeoutError ? 'timeout' : 'failed') : 'ok',
      ...(error ? { error } : {}),
    });
    return error;
  }
}

/** One phase's hooks of the owners, in the owners' order, each owner's in its `order`. */
function hookList(owners: readonly HookOwner[], phase: HookPhase): (readonly [HookPlan, object])[] {
  return owners.flatMap((owner) => owner.hooks[phase].map((hook) => [hook, owner.instance] as const));
}

function asHookError(name: string, phase: Phase, cause: unknown): Error {
  return cause instanceof HookError ? cause : new HookError(name, phase, cause);
}
