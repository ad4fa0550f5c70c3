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

interface Live {
  drop(): void;
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
  /** Whether `began` is called when a task starts (else only once it ended, with the time it started). */
  protected readonly startsKnown: boolean = true;
  readonly #admission: Admission;
  readonly #live = new Set<Live>();
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
  /** Removes the tasks that have not started (their submitters are told by `drop`). */
  protected abstract clearQueue(): void;
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
    if (this.#state !== 'open') {
      this.#observer?.count('rejected');
      return Promise.reject(new PoolClosedError(this.name, this.#state === 'stopped' ? 'stopped' : 'draining'));
    }
    const submittedAt = this.clock.now();
    return this.#admission.admit(() => this.#track(enter, submittedAt, options.signal), {
      nonBlocking: options.nonBlocking ?? this.settings.nonBlocking,
      timeoutMs: options.submitTimeoutMs ?? this.settings.submitTimeoutMs,
      signal: options.signal,
    });
  }

  /** Room may have appeared: lets waiting submissions in. */
  protected wake(): void {
    this.#admission.wake();
  }

  /** The signal a running task gets: the drain deadline, and the submitter's own when it gave one. */
  protected signalFor(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([this.deadline.signal, signal]) : this.deadline.signal;
  }

  #track<T>(
    enter: (began: (at?: number) => void) => Promise<T>,
    submittedAt: number,
    cancel?: AbortSignal,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let startedAt: number | undefined;
      let done = false;
      const end = (outcome: TaskOutcome): boolean => {
        if (done) return false;
        done = true;
        this.#live.delete(live);
        if (startedAt !== undefined && outcome !== 'dropped') {
          this.#observer?.ran((this.clock.now() - startedAt) / 1000);
        }
        this.#observer?.count(outcome);
        if (this.#live.size === 0) this.#idle?.();
        return true;
      };
      const live: Live = {
        drop: () => {
          if (end('dropped'))
            reject(new PoolDroppedError(this.name, this.startsKnown ? startedAt !== undefined : undefined));
        },
      };
      this.#live.add(live);
      const began = (at = this.clock.now()): void => {
        startedAt = at;
        this.#observer?.waited((startedAt - submittedAt) / 1000);
      };
      enter(began).then(
        (value) => {
          if (end('ok')) resolve(value);
        },
        (error: unknown) => {
          const cancelled = cancel?.aborted === true && error === cancel.reason;
          if (!end(cancelled && startedAt === undefined ? 'rejected' : 'error')) return;
          if (!cancelled) this.#report(error);
          reject(error);
        },
      );
    });
  }

  async #drainUntil(deadline: AbortSignal | undefined): Promise<DrainReport> {
    const accepted = this.#live.size;
    const expired = await new Promise<boolean>((resolve) => {
      if (this.#live.size === 0) return resolve(false);
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
      this.clearQueue();
      for (const live of left) live.drop();
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
