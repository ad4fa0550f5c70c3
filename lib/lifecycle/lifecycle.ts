import type { Container } from 'inversify';
import type { FrameworkSettings } from '../config/defaults.js';
import { type HookOwner, resolveOwners } from '../container/owners.js';
import { HookError, HookTimeoutError, isAbortError } from '../errors.js';
import type { AppPlan, CommandPlan } from '../plan/types.js';
import { type Clock, sleep } from './clock.js';
import type { Component } from './component.js';
import type { LifecycleEvents, Outcome, Phase } from './events.js';
import { type Call, componentPart, ownerPart, type Part, resourcePart } from './parts.js';
import type { RunHandle, ServerRunner } from './runner.js';
import { SIGNAL_NUMBERS, type SignalSource, type StopSignal } from './signals.js';

/** The command's parts, built by the composition root once the lifecycle listens for signals. */
export interface Composition {
  /** Loaded and validated before the run: only the hook deadlines and the shutdown budget are read here. */
  readonly settings: Pick<FrameworkSettings, 'hooks' | 'shutdown'>;
  /** The framework's parts, in start order (phase `framework`); they stop in reverse (`framework-post`). */
  readonly components: readonly Component[];
  /** Started once the run has started (the runtime descriptor); the first to stop. */
  readonly serving?: readonly Component[];
  /** Loaded on demand, so a task never loads a server. */
  readonly runner: () => Promise<ServerRunner> | ServerRunner;
}

export interface LifecycleOptions {
  readonly plan: AppPlan;
  readonly command: CommandPlan;
  readonly container: Container;
  readonly events: LifecycleEvents;
  readonly clock: Clock;
  readonly signals: SignalSource;
  /**
   * Builds the parts (loading configuration and the libraries they need), called
   * once the stop signals are handled: a signal while it runs is a clean stop,
   * not the default action that kills the process.
   */
  readonly compose: () => Composition;
  /** Parsed option values, set on the command instance before PreRun. */
  readonly optionValues?: Readonly<Record<string, unknown>>;
}

type Options = Omit<LifecycleOptions, 'compose'> & Composition;

/**
 * Runs one command through the lifecycle and resolves to its exit code:
 * components → PreRun → run → (signal → drain → Shutdown) → PostRun →
 * components' stop, in reverse. From the first signal everything left,
 * PostRun and the telemetry flush included, runs within the shutdown budget.
 * Never throws; every error is collected and reported in the `exit` event.
 */
export async function runLifecycle(options: LifecycleOptions): Promise<number> {
  const { events, clock, command } = options;
  const started = clock.now();
  const errors: Error[] = [];
  let force!: (code: number) => void;
  const forced = new Promise<number>((resolve) => {
    force = resolve;
  });
  let run: Run | undefined;

  let signalled = false;
  const unsubscribe = options.signals.subscribe((signal: StopSignal) => {
    if (!signalled) {
      signalled = true;
      events.emit({ type: 'signal', signal, command: command.name, forced: false });
      if (events.state === 'starting' || events.state === 'running') {
        events.emit({ type: 'state', state: 'stopping', command: command.name });
      }
      run?.stop();
    } else {
      events.emit({ type: 'signal', signal, command: command.name, forced: true });
      force(128 + SIGNAL_NUMBERS[signal]);
    }
  });

  events.emit({ type: 'state', state: 'starting', command: command.name });
  const composed = new Run({ ...options, ...options.compose() }, errors);
  run = composed;
  if (signalled) composed.stop();
  const code = await Promise.race([composed.execute().then(() => (errors.length > 0 ? 1 : 0)), forced]);
  composed.dispose();
  unsubscribe();
  events.emit({ type: 'exit', command: command.name, code, durationMs: clock.now() - started, errors });
  return code;
}

/** One run's state; split from runLifecycle so each phase reads as a method. */
class Run {
  readonly #o: Options;
  readonly #errors: Error[];
  /** Aborts on the first stop signal. */
  readonly #stop = new AbortController();
  /** Aborts when the shutdown budget, counted from the first signal, is spent. */
  readonly #spent = new AbortController();
  #budgetTimer: unknown;
  /** Started parts, in start order (fx's numStarted): the ones that drain and stop, in reverse. */
  readonly #started: Part[] = [];
  readonly #arounds: NonNullable<Component['around']>[] = [];

  constructor(options: Options, errors: Error[]) {
    this.#o = options;
    this.#errors = errors;
  }

  get #hookTimeoutMs(): number {
    return this.#o.settings.hooks.timeoutMs;
  }

  get #budgetMs(): number {
    return this.#o.settings.shutdown.timeoutMs;
  }

  /** The first stop signal: stop starting, and count the shutdown budget from now. */
  stop(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#budgetTimer = this.#o.clock.setTimeout(() => this.#spent.abort(), this.#budgetMs);
  }

  dispose(): void {
    if (this.#budgetTimer !== undefined) this.#o.clock.clearTimeout(this.#budgetTimer);
  }

  async execute(): Promise<void> {
    const { events, command } = this.#o;
    const framework = this.#o.components.map((c) => componentPart(c, this.#hookTimeoutMs));
    if (await this.#startAll(framework, 'framework', true)) {
      const resolved = await this.#resolve();
      if (resolved) {
        const [owners, instance] = resolved;
        const { plan, command } = this.#o;
        // Main's and the command's PostRun hooks run even when their PreRun did not (as they always have).
        const app = (owner: HookOwner): boolean =>
          owner.instance instanceof plan.main || owner.instance instanceof command.cls;
        const parts = owners.map((owner) =>
          owner.resource
            ? resourcePart(owner.resource, this.#hookTimeoutMs)
            : ownerPart(owner, this.#hookTimeoutMs, app(owner)),
        );
        const ready = await this.#startAll(parts, 'prerun', false);
        if (ready && !this.#stop.signal.aborted) await this.#runAndWait(instance);
      }
    }
    await this.#stopAll();
    events.emit({ type: 'state', state: 'stopped', command: command.name });
  }

  async #resolve(): Promise<[HookOwner[], object] | undefined> {
    const { container, plan, command, optionValues, clock } = this.#o;
    try {
      const owners = await resolveOwners({ container, plan, command, clock, timeoutMs: this.#hookTimeoutMs });
      const cmd = owners.find((o) => o.instance instanceof command.cls)?.instance as Record<string, unknown>;
      for (const [key, value] of Object.entries(optionValues ?? {})) if (value !== undefined) cmd[key] = value;
      return [owners, cmd];
    } catch (error) {
      this.#errors.push(error as Error);
      return undefined;
    }
  }

  /**
   * Starts parts in order, each call under its deadline, until one fails or
   * a signal came; a part counts as started once all its start calls
   * succeeded. `always`: the phase is reported even when nothing is called.
   */
  async #startAll(parts: readonly Part[], phase: Phase, always: boolean): Promise<boolean> {
    if (!always && parts.every((p) => p.start.length === 0)) {
      this.#started.push(...parts);
      return true;
    }
    const ok = await this.#phase(phase, async () => {
      for (const part of parts) {
        for (const call of part.start) {
          // Framework parts all start even after a signal: the stop reports through them.
          if (phase !== 'framework' && this.#stop.signal.aborted) return false;
          if (await this.#invoke(call, phase)) return false;
        }
        this.#started.push(part);
        if (part.around) this.#arounds.push(part.around);
      }
      return true;
    });
    if (!ok) for (const part of parts) if (part.alwaysStop && !this.#started.includes(part)) this.#started.push(part);
    return ok;
  }

  /** The stop pass: every started part's stop calls, in reverse, each phase reported once. */
  async #stopAll(): Promise<void> {
    const parts = [...this.#started].reverse();
    // Parts that stop in one phase are consecutive: owners (postrun), then the framework's (framework-post).
    for (const phase of ['postrun', 'framework-post'] as const) {
      const here = parts.filter((p) => p.phases.stop === phase);
      const calls = here.flatMap((p) => p.stop);
      if (calls.length === 0 && phase !== 'framework-post') continue;
      await this.#phase(phase, async () => {
        for (const call of calls) await this.#invoke(call, phase);
      });
    }
  }

  /** Users' Shutdown hooks, in reverse, after the servers drained; none starts once the budget is spent. */
  async #shutdownHooks(): Promise<void> {
    const calls = [...this.#started].reverse().flatMap((p) => (p.phases.drain === 'shutdown' ? p.drain : []));
    if (calls.length === 0) return;
    await this.#phase('shutdown', async () => {
      for (const call of calls) {
        if (this.#spent.signal.aborted) break;
        await this.#invoke(call, 'shutdown');
      }
    });
  }

  /**
   * Starts the run and waits for it to end or for a stop signal. A `@Run`
   * method is one hook from call to settle; a server's hook is its start
   * (listening), under the hook deadline.
   */
  async #runAndWait(instance: object): Promise<void> {
    const { events, command, clock, container } = this.#o;
    const runAbort = new AbortController();
    const start = clock.now();
    const before = this.#errors.length;
    events.emit({ type: 'phase:start', phase: 'run', command: command.name });
    let handle: RunHandle | undefined;
    // A @Run method is the hook (`Cls.run`); a server's hook is named by its runner, e.g. `Cls (http server)`.
    let label = command.run ? `${command.cls.name}.${command.run}` : `${command.cls.name} (${command.server} server)`;
    const startRun = async (runner: ServerRunner): Promise<void> => {
      handle = await runner.start({ command, instance, container, signal: runAbort.signal });
    };
    if (command.run) {
      events.emit({ type: 'hook:start', phase: 'run', hook: label, command: command.name });
      try {
        const runner = await this.#o.runner();
        await this.#around(label, 'run', () => startRun(runner));
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
      await this.#invoke(
        {
          name: label,
          timeoutMs: this.#hookTimeoutMs,
          fn: () => {
            if (!runner) throw failure;
            return startRun(runner);
          },
        },
        'run',
      );
    }
    if (handle) {
      if (!this.#stop.signal.aborted) events.emit({ type: 'state', state: 'running', command: command.name });
      const serving = (this.#o.serving ?? []).map((c) => componentPart(c, this.#hookTimeoutMs, 'run'));
      for (const part of serving) if (!(await this.#startCalls(part))) break;
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

  /** Starts one part outside a phase of its own (the serving ones, inside `run`). */
  async #startCalls(part: Part): Promise<boolean> {
    for (const call of part.start) if (await this.#invoke(call, part.phases.start)) return false;
    this.#started.push(part);
    return true;
  }

  async #waitForEnd(handle: RunHandle, runAbort: AbortController, label: string): Promise<void> {
    type Ending = { kind: 'ended'; error?: unknown } | { kind: 'signal' };
    const ended = handle.ended.then(
      (): Ending => ({ kind: 'ended' }),
      (error: unknown): Ending => ({ kind: 'ended', error: error ?? new Error('rejected without a reason') }),
    );
    const stopped = new Promise<Ending>((resolve) => {
      const signal = this.#stop.signal;
      if (signal.aborted) resolve({ kind: 'signal' });
      else signal.addEventListener('abort', () => resolve({ kind: 'signal' }), { once: true });
    });
    const first = await Promise.race([ended, stopped]);
    if (first.kind === 'ended') {
      if (first.error !== undefined) this.#errors.push(asHookError(label, 'run', first.error));
    } else {
      await this.#drain(handle, runAbort, ended, label);
      if (!this.#spent.signal.aborted) await this.#shutdownHooks();
    }
    // The serving parts (the runtime descriptor) stop first, then the run closes.
    await this.#stopServing();
    if (this.#spent.signal.aborted) runAbort.abort();
    await handle.close?.();
  }

  async #stopServing(): Promise<void> {
    while (this.#started.at(-1)?.phases.start === 'run') {
      const part = this.#started.pop() as Part;
      for (const call of part.stop) await this.#invoke(call, 'run');
    }
  }

  /** Drain delay → drain → abort the run and wait for it, within the shutdown budget. */
  async #drain(
    handle: RunHandle,
    runAbort: AbortController,
    ended: Promise<{ kind: string; error?: unknown }>,
    label: string,
  ): Promise<void> {
    const { clock } = this.#o;
    const spent = this.#spent.signal;
    await this.#phase('drain', async () => {
      if (handle.drain) {
        await sleep(clock, this.#o.settings.shutdown.drainDelayMs, spent);
        if (this.#spentDuring('the drain delay')) return;
        await Promise.race([handle.drain(spent), aborted(spent)]);
        if (this.#spentDuring(`${label} draining`)) return;
      }
      runAbort.abort();
      const outcome = await Promise.race([ended, aborted(spent).then(() => undefined)]);
      if (this.#spentDuring(label)) return;
      if (outcome?.error !== undefined && !isAbortError(outcome.error)) {
        this.#errors.push(asHookError(label, 'run', outcome.error));
      }
      // Then the started components that drain (resources), in reverse: after the servers, before Shutdown hooks.
      for (const part of [...this.#started].reverse()) {
        if (part.phases.drain !== 'drain') continue;
        for (const call of part.drain) if (!spent.aborted) await this.#invoke(call, 'drain');
      }
    });
  }

  /** When the budget is spent, names what was still running; true if it is. */
  #spentDuring(current: string): boolean {
    if (!this.#spent.signal.aborted) return false;
    this.#errors.push(this.#budgetError(current, 'shutdown'));
    return true;
  }

  #budgetError(name: string, phase: Phase): HookTimeoutError {
    const ms = this.#budgetMs;
    return new HookTimeoutError(
      name,
      phase,
      ms,
      `${name} was still running when the shutdown budget of ${ms} ms ran out`,
    );
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

  #around<T>(hook: string, phase: Phase, fn: () => T): T {
    return this.#arounds.reduceRight<() => T>((inner, around) => () => around(hook, phase, inner), fn)();
  }

  /**
   * Calls one hook under its deadline and, after a stop signal, the shutdown
   * budget; returns its error, already collected. A hook called once the
   * budget is spent (PostRun, the framework's stops) gets an aborted signal
   * and one turn of the event loop: synchronous cleanup still happens, and
   * what would need longer is named in its event, not waited for.
   */
  async #invoke(call: Call, phase: Phase): Promise<Error | undefined> {
    const { events, clock, command } = this.#o;
    const { name, timeoutMs } = call;
    const spent = this.#spent.signal;
    const late = spent.aborted;
    const abort = new AbortController();
    if (late) abort.abort(this.#budgetError(name, phase));
    const start = clock.now();
    events.emit({ type: 'hook:start', phase, hook: name, command: command.name });
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => {
      if (!late) timer = clock.setTimeout(() => resolve('timeout'), timeoutMs);
    });
    let onSpent: (() => void) | undefined;
    const cut = late
      ? nextTurn().then(() => 'late' as const)
      : new Promise<'spent'>((resolve) => {
          onSpent = () => resolve('spent');
          spent.addEventListener('abort', onSpent, { once: true });
        });
    let error: Error | undefined;
    let collect = true;
    try {
      const work = Promise.resolve().then(() =>
        this.#around(name, phase, () => call.fn({ signal: abort.signal, timeoutMs })),
      );
      const settled = await Promise.race([work.then(() => 'ok' as const), timedOut, cut]);
      if (settled === 'timeout') {
        error = new HookTimeoutError(name, phase, timeoutMs);
        abort.abort(error);
      } else if (settled === 'spent') {
        error = this.#budgetError(name, phase);
        abort.abort(error);
      } else if (settled === 'late') {
        const ms = this.#budgetMs;
        error = new HookTimeoutError(
          name,
          phase,
          ms,
          `${name} was not waited for: the shutdown budget of ${ms} ms was spent before it started`,
        );
        // The budget's own error already fails the run; this one is only reported in its event.
        collect = false;
      }
    } catch (cause) {
      error = asHookError(name, phase, cause);
    } finally {
      clock.clearTimeout(timer);
      if (onSpent) spent.removeEventListener('abort', onSpent);
    }
    if (error && collect) this.#errors.push(error);
    events.emit({
      type: 'hook:end',
      phase,
      hook: name,
      command: command.name,
      durationMs: clock.now() - start,
      outcome: error ? (error instanceof HookTimeoutError ? 'timeout' : 'failed') : 'ok',
      ...(error ? { error } : {}),
    });
    return error;
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** One turn of the event loop: what a call made past the budget gets. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function asHookError(name: string, phase: Phase, cause: unknown): Error {
  return cause instanceof HookError ? cause : new HookError(name, phase, cause);
}
