import { setMaxListeners } from 'node:events';
import type { Registry } from 'prom-client';
import { DionysusError, messageOf } from '../errors.js';
import { type Clock, systemClock } from '../lifecycle/clock.js';
import { Admission } from './admission.js';
import { PoolClosedError, PoolDroppedError, PoolFullError } from './errors.js';
import type { PoolObserver, TaskOutcome } from './metrics.js';
import { type PoolSettings, poolSettings } from './settings.js';

/** Where a pool writes what it dropped and what failed; pino's Logger (the framework's `Logger`) fits. */
export interface PoolLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Called with the error of every task that throws or rejects; the pool keeps running. */
export type PoolErrorHandler = (error: unknown, info: { readonly pool: string }) => void;

export interface PoolOptions extends Partial<PoolSettings> {
  /** The registry of the framework's metrics (inject prom-client's `Registry`); none: no metrics. */
  registry?: Registry;
  /** Dropped tasks are logged here, and task errors when there is no `onError`. */
  logger?: PoolLogger;
  /** The panic handler: sees every task error (the submitter gets it too). @default logs it on `logger` */
  onError?: PoolErrorHandler;
  /** Time for the submit and drain timeouts; tests pass a `FakeClock`. */
  clock?: Clock;
}

export interface SubmitOptions {
  /** Cancels the submission: while it waits for room, while queued, or (the task's signal fires) while it runs. */
  signal?: AbortSignal;
  /** Overrides the pool's `nonBlocking` for this submission. */
  nonBlocking?: boolean;
  /** Overrides the pool's `submitTimeoutMs` for this submission. */
  submitTimeoutMs?: number;
}

/** What a drain did: tasks that finished during it, and tasks dropped at its deadline. */
export interface DrainReport {
  readonly finished: number;
  readonly dropped: number;
}

type State = 'open' | 'draining' | 'drained' | 'stopped';

/**
 * One accepted submission, from admission to its end: the promise its submitter
 * holds and what the pool accounts for it. A class rather than closures: it is
 * made for every task.
 */
class Ticket {
  readonly promise: Promise<unknown>;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  /** Clock time of the submission; unset when the task started inside submit (it never waited). */
  readonly submittedAt: number | undefined;
  /** The submitter's signal. */
  readonly cancel: AbortSignal | undefined;
  startedAt: number | undefined = undefined;
  ended = false;

  constructor(submittedAt: number | undefined, cancel: AbortSignal | undefined) {
    this.submittedAt = submittedAt;
    this.cancel = cancel;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

const ABORTED = AbortSignal.abort();

/**
 * What every pool shares: admission to a bounded queue, outcome accounting and
 * metrics, and the lifecycle the kernel calls (`start`, `drain(deadline)`,
 * `stop(deadline)`). Subclasses run the tasks.
 */
export abstract class BoundedPool {
  /** The pool's name: its config key `dionysus.pool.<name>` and its metrics label. */
  readonly name: string;
  protected readonly settings: PoolSettings;
  protected readonly clock: Clock;
  /** Fires at the drain deadline: the AbortSignal of every running task. */
  protected readonly deadline = new AbortController();
  /** `deadline.signal`, read once: AbortController's getter is a call on every task's start path (bench/pool). */
  readonly #deadlineSignal = this.deadline.signal;
  /** Whether `began` is called when a task starts (else only once it ended, with the time it started). */
  protected readonly startsKnown: boolean = true;
  readonly #admission: Admission;
  /** Accepted tickets that have not ended (the pools that settle their submitters through tickets). */
  readonly #live = new Set<Ticket>();
  /** Accepted jobs a subclass tracks itself (`entered`, `ended`, `dropJobs`) that have not ended. */
  #jobs = 0;
  readonly #logger?: PoolLogger;
  readonly #onError?: PoolErrorHandler;
  #observer?: PoolObserver;
  #state: State = 'open';
  #drained?: Promise<DrainReport>;
  #expire?: () => void;
  #idle?: () => void;

  protected constructor(name: string, options: PoolOptions) {
    this.name = name;
    const { registry, logger, onError, clock, ...settings } = options;
    this.settings = poolSettings(name, undefined, settings);
    this.clock = clock ?? systemClock;
    this.#logger = logger;
    this.#onError = onError;
    // Every running task may listen to the one deadline signal.
    setMaxListeners(0, this.deadline.signal);
    this.#admission = new Admission({
      pool: name,
      clock: this.clock,
      hasRoom: () => this.hasRoom(),
      full: () => new PoolFullError(name, this.running, this.waiting),
      refused: (outcome) => this.#observer?.count(outcome),
    });
    if (registry) {
      const { observePool } = require('./metrics.js') as typeof import('./metrics.js');
      this.#observer = observePool(registry, this);
    }
  }

  /** Tasks run at once. */
  abstract get capacity(): number;
  /** Tasks running now. */
  abstract get running(): number;
  /** Tasks accepted and waiting for a worker. */
  abstract get waiting(): number;
  /** Whether a submission can be accepted now. */
  protected abstract hasRoom(): boolean;
  /**
   * At the drain deadline: ends the jobs the subclass tracks itself (`entered`), rejecting their
   * submitters with `PoolDroppedError`; returns how many it dropped. Tickets are dropped by the pool.
   */
  protected dropJobs(): number {
    return 0;
  }
  /** Resolves when nothing runs any more (tasks that ignore their signal), or when `deadline` aborts. */
  protected abstract quiet(deadline: AbortSignal): Promise<void>;
  protected abstract close(): Promise<void>;

  /** The most tasks that may wait beyond those running. */
  get maxQueue(): number {
    return this.settings.maxQueue;
  }

  /** Submissions waiting for room in the queue (blocking submit). */
  get blocked(): number {
    return this.#admission.blocked;
  }

  /** `open`, `draining` (finishing what it accepted), `drained` or `stopped`. */
  get state(): State {
    return this.#state;
  }

  /** The pool takes tasks from its construction on; `start` is the lifecycle's hook and does nothing more. */
  async start(): Promise<void> {
    if (this.#state === 'stopped') throw new PoolClosedError(this.name, 'stopped');
  }

  /**
   * Takes no new tasks (submissions, and those waiting for room, fail with
   * `PoolClosedError`), lets queued and running tasks finish until `deadline`
   * aborts or `drainTimeoutMs` passes, then fires their AbortSignals, rejects
   * their submitters with `PoolDroppedError`, and counts and logs them as dropped.
   * Calling it again returns the same report.
   */
  drain(deadline?: AbortSignal): Promise<DrainReport> {
    if (!this.#drained) {
      if (this.#state === 'open') this.#state = 'draining';
      this.#admission.failAll(new PoolClosedError(this.name, 'draining'));
      this.#drained = this.#drainUntil(deadline);
    }
    return this.#drained;
  }

  /**
   * The forced end: drops whatever is still queued or running (as a drain past
   * its deadline), then waits until `deadline` for tasks that ignore their
   * AbortSignal, and releases the workers. Harmless when called twice.
   */
  async stop(deadline: AbortSignal = ABORTED): Promise<void> {
    this.#expire?.();
    await this.drain(ABORTED);
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#observer?.close();
    await this.quiet(deadline);
    await this.close();
  }

  /**
   * Admits `enter` (which starts or queues the task, calling `began` when it starts, with the
   * clock's time when that was earlier) and accounts for its end.
   */
  protected admit<T>(enter: (began: (at?: number) => void) => Promise<T>, options: SubmitOptions): Promise<T> {
    const ticket = new Ticket(this.clock.now(), options.signal);
    return this.admitWith(() => {
      this.#live.add(ticket);
      enter((at) => this.began(ticket, at)).then(
        (value) => this.settle(ticket, value),
        (error: unknown) => this.fail(ticket, error),
      );
      return ticket.promise as Promise<T>;
    }, options);
  }

  /**
   * Calls `enter` (which starts or queues a task and returns its submitter's promise) at once
   * when there is room, else once room appears (blocking submit), or refuses the submission.
   * `enter` accounts for the task's end itself: with a ticket, or `entered` and `ended`.
   */
  protected admitWith<T>(enter: () => Promise<T>, options: SubmitOptions): Promise<T> {
    if (this.#state !== 'open') {
      this.#observer?.count('rejected');
      return Promise.reject(new PoolClosedError(this.name, this.#state === 'stopped' ? 'stopped' : 'draining'));
    }
    const admission = this.#admission;
    // The common case first: nobody waits and there is room (what Admission.admit checks first too).
    if (admission.blocked === 0 && this.hasRoom()) return enter();
    return admission.admit(enter, {
      nonBlocking: options.nonBlocking ?? this.settings.nonBlocking,
      timeoutMs: options.submitTimeoutMs ?? this.settings.submitTimeoutMs,
      signal: options.signal,
    });
  }

  /** Whether a submission now enters at once: the pool is open and nobody waits for room (room is the caller's check). */
  protected admitsAtOnce(): boolean {
    return this.#state === 'open' && this.#admission.blocked === 0;
  }

  /** A job the subclass tracks itself was accepted: it counts until `ended`. */
  protected entered(): void {
    this.#jobs++;
  }

  /**
   * A job counted by `entered` ended with `outcome`; `startedAt`: the clock's time its task
   * started (its duration is observed up to now), unset when it never started or was dropped.
   */
  protected ended(outcome: TaskOutcome, startedAt?: number): void {
    this.#jobs--;
    this.#account(outcome, startedAt);
  }

  /** Observes how long a task that started at `startedAt` waited since `submittedAt` (unset or NaN: it never waited). */
  protected observeWait(submittedAt: number | undefined, startedAt: number): void {
    const waited = submittedAt === undefined || Number.isNaN(submittedAt) ? 0 : (startedAt - submittedAt) / 1000;
    this.#observer?.waited(waited);
  }

  /** The error of a task goes to `onError` (or the log) unless it is the reason of its submitter's own signal. */
  protected failed(error: unknown, cancel: AbortSignal | undefined): void {
    if (!(cancel?.aborted === true && error === cancel.reason)) this.#report(error);
  }

  /** Whether the pool keeps metrics (a ticket then needs its submission time). */
  protected get observed(): boolean {
    return this.#observer !== undefined;
  }

  /** The ticket's task starts (at `at`, the clock's time, when that was earlier). */
  protected began(ticket: Ticket, at?: number): void {
    ticket.startedAt = at ?? this.clock.now();
    this.waited(ticket);
  }

  /** Observes how long the started ticket waited (after its task's first synchronous part, off its start path). */
  protected waited(ticket: Ticket): void {
    if (ticket.startedAt !== undefined) this.observeWait(ticket.submittedAt, ticket.startedAt);
  }

  /** The ticket's task returned `value`. */
  protected settle(ticket: Ticket, value: unknown): void {
    if (this.#end(ticket, 'ok')) ticket.resolve(value);
  }

  /** The ticket's task failed with `error` (or its submitter's signal took it out of the queue). */
  protected fail(ticket: Ticket, error: unknown): void {
    const { cancel } = ticket;
    const cancelled = cancel?.aborted === true && error === cancel.reason;
    if (!this.#end(ticket, cancelled && ticket.startedAt === undefined ? 'rejected' : 'error')) return;
    if (!cancelled) this.#report(error);
    ticket.reject(error);
  }

  /** Room may have appeared: lets waiting submissions in. */
  protected wake(): void {
    this.#admission.wake();
  }

  /** The signal a running task gets: the drain deadline, and the submitter's own when it gave one. */
  protected signalFor(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([this.#deadlineSignal, signal]) : this.#deadlineSignal;
  }

  #end(ticket: Ticket, outcome: TaskOutcome): boolean {
    if (ticket.ended) return false;
    ticket.ended = true;
    this.#live.delete(ticket);
    this.#account(outcome, outcome === 'dropped' ? undefined : ticket.startedAt);
    return true;
  }

  /** Metrics of an ended task or ticket (its duration when it ran), and the end of a drain once nothing is left. */
  #account(outcome: TaskOutcome, startedAt: number | undefined): void {
    const observer = this.#observer;
    if (observer) {
      if (startedAt !== undefined) observer.ran((this.clock.now() - startedAt) / 1000);
      observer.count(outcome);
    }
    if (this.#jobs === 0 && this.#live.size === 0) this.#idle?.();
  }

  #drop(ticket: Ticket): void {
    if (this.#end(ticket, 'dropped')) {
      ticket.reject(new PoolDroppedError(this.name, this.startsKnown ? ticket.startedAt !== undefined : undefined));
    }
  }

  async #drainUntil(deadline: AbortSignal | undefined): Promise<DrainReport> {
    const accepted = this.#live.size + this.#jobs;
    const expired = await new Promise<boolean>((resolve) => {
      if (accepted === 0) return resolve(false);
      const finish = (value: boolean): void => {
        this.clock.clearTimeout(timer);
        deadline?.removeEventListener('abort', expire);
        this.#expire = this.#idle = undefined;
        resolve(value);
      };
      const expire = (): void => finish(true);
      const timer = this.clock.setTimeout(expire, this.settings.drainTimeoutMs);
      this.#expire = expire;
      this.#idle = () => finish(false);
      if (deadline?.aborted) return expire();
      deadline?.addEventListener('abort', expire, { once: true });
    });
    let dropped = 0;
    if (expired) {
      const running = this.running;
      const waiting = this.waiting;
      const left = [...this.#live];
      dropped = left.length;
      for (const ticket of left) this.#drop(ticket);
      dropped += this.dropJobs();
      this.deadline.abort(new PoolDroppedError(this.name));
      if (dropped > 0) {
        this.#logger?.warn(
          { pool: this.name, dropped, running, waiting },
          `pool '${this.name}' dropped ${dropped} task${dropped === 1 ? '' : 's'} at the drain deadline (${running} running, ${waiting} waiting); their AbortSignals fired`,
        );
      }
    }
    if (this.#state === 'draining') this.#state = 'drained';
    return { finished: accepted - dropped, dropped };
  }

  #report(error: unknown): void {
    try {
      if (this.#onError) this.#onError(error, { pool: this.name });
      else
        this.#logger?.error(
          { pool: this.name, err: errorFields(error) },
          `task of pool '${this.name}' failed: ${messageOf(error)}`,
        );
    } catch (failure) {
      // The panic handler itself must not take the pool down.
      this.#logger?.error({ pool: this.name }, `onError of pool '${this.name}' threw: ${messageOf(failure)}`);
    }
  }
}

/** The error as the framework's log lines carry it (type, fields, frames), loaded only once a task failed. */
function errorFields(error: unknown): Record<string, unknown> {
  const { errorField } = require('../telemetry/logger.js') as typeof import('../telemetry/logger.js');
  return errorField(error);
}

/** A size for `tune`: a whole number above 0, or an error naming the pool. */
export function checkSize(pool: string, size: number): number {
  if (!Number.isInteger(size) || size < 1) {
    throw new DionysusError(
      'usage',
      `TaskPool.tune of pool '${pool}': ${JSON.stringify(size)} is not a whole number above 0`,
    );
  }
  return size;
}
