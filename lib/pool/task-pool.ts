import type { AsyncResource } from 'node:async_hooks';
import type PQueue from 'p-queue';
import { contextToEnter, submitterContext } from './async-context.js';
import { BoundedPool, checkSize, type PoolOptions, type SubmitOptions } from './core.js';
import { PoolDroppedError } from './errors.js';
import { Fifo } from './fifo.js';

/** A task: it gets the AbortSignal that fires when the pool drops it (drain deadline) or its submitter cancels. */
export type Task<T> = (signal: AbortSignal) => T | Promise<T>;

export type TaskPoolOptions = PoolOptions;

/**
 * An async task pool with the semantics of Go's ants, on p-queue: at most
 * `size` tasks run at once and at most `maxQueue` wait; a submission beyond
 * that waits for room (blocking, bounded by `submitTimeoutMs` and its signal)
 * or fails at once with `PoolFullError` (`nonBlocking`). A task that throws
 * or rejects fails its submitter and reaches `onError`; the pool keeps
 * running. Each task runs in its submitter's async context, so the
 * OpenTelemetry span active at `submit` is active in the task.
 * @example
 * const pool = new TaskPool('jobs', { size: 4, maxQueue: 100 });
 * const report = await pool.submit((signal) => render(page, { signal }));
 * await pool.drain(AbortSignal.timeout(5000));
 */
export class TaskPool extends BoundedPool {
  readonly #queue: PQueue<Fifo>;
  readonly #fifo: Fifo;
  /** Async tasks whose own promise has not settled: dropped at the deadline, awaited by `stop`. */
  readonly #inFlight = new Set<Running>();
  /** Set at the drain deadline: a queued task p-queue starts from then on is dropped instead. */
  #dropping = false;
  /** Resolves `quiet` once no async task runs any more. */
  #quiet: (() => void) | undefined;
  /** What p-queue calls to start every task without a signal of its own (one function, not one per task). */
  readonly #start = (): unknown => {
    const fifo = this.#fifo;
    const task = fifo.take() as Task<unknown>;
    return this.#run(task, fifo.takenAt, contextToEnter(fifo.takeContext()), undefined);
  };

  constructor(name: string, options: TaskPoolOptions = {}) {
    super(name, options);
    // p-queue is ESM-only: required (require(esm), Node ≥ 20.19) when a pool is built, never on import.
    const { default: Queue } = require('p-queue') as typeof import('p-queue');
    this.#queue = new Queue<Fifo>({ concurrency: this.settings.size, queueClass: Fifo });
    this.#fifo = Fifo.made as Fifo;
    this.#queue.on('next', () => this.wake());
  }

  get capacity(): number {
    return this.#queue.concurrency;
  }

  get running(): number {
    // Once dropped, what still runs are the tasks that ignore their signal (p-queue let their slots go).
    return this.#dropping ? this.#inFlight.size : this.#queue.pending;
  }

  get waiting(): number {
    return this.#queue.size;
  }

  /**
   * Runs `task` in the pool; resolves with its result, rejects with its error
   * or with a `PoolError` (`PoolFullError`, `PoolTimeoutError`,
   * `PoolClosedError`, `PoolDroppedError`).
   */
  submit<T>(task: Task<T>, options?: SubmitOptions): Promise<T> {
    // The common case on its own path, with no closure (bench/pool's targets): no options, the
    // pool open, nobody waiting for room, and room for the task.
    if (options === undefined && this.admitsAtOnce()) {
      const queue = this.#queue;
      // A task that starts inside add runs in the submitter's context and waits for nothing
      // (and has room: checked first, as it is the idle pool's case).
      if (queue.size === 0 && queue.pending < queue.concurrency) {
        return this.#add(task, Number.NaN, undefined) as Promise<T>;
      }
      if (this.hasRoom()) return this.#add(task, this.#submittedAt(), submitterContext()) as Promise<T>;
    }
    return this.#submit(task, options ?? {}) as Promise<T>;
  }

  /**
   * Like `submit`, for fire and forget: resolves once the task is accepted
   * (started or queued) and rejects only when it is not; the task's own
   * failure goes to `onError` alone.
   */
  post(task: Task<unknown>, options: SubmitOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      // Once accepted, resolve has settled the promise and a later rejection is a no-op.
      this.#submit(task, options, resolve).catch(reject);
    });
  }

  /** Changes the number of tasks run at once; running tasks finish either way, waiting ones start as room appears. */
  tune(size: number): void {
    this.#queue.concurrency = checkSize(this.name, size);
    this.wake();
  }

  #submit(task: Task<unknown>, options: SubmitOptions, accepted?: () => void): Promise<unknown> {
    const queue = this.#queue;
    // A task that starts inside submit already runs in the submitter's context, and never waits;
    // only one that waits is bound to the context (when one is in use) and timed from its submission.
    const startsNow = this.blocked === 0 && queue.size === 0 && queue.pending < queue.concurrency;
    const submittedAt = startsNow ? Number.NaN : this.#submittedAt();
    const context = startsNow ? undefined : submitterContext();
    return this.admitWith(() => {
      accepted?.();
      const signal = options.signal;
      if (signal !== undefined) return this.#enqueueCancellable(task, submittedAt, context, signal);
      return this.#add(task, submittedAt, context);
    }, options);
  }

  /** When a task that may wait was submitted, for its wait time (NaN without metrics). */
  #submittedAt(): number {
    return this.observed ? this.clock.now() : Number.NaN;
  }

  /** Queues (or starts) an accepted task without a signal of its own. */
  #add(task: Task<unknown>, submittedAt: number, context: AsyncResource | undefined): Promise<unknown> {
    this.entered();
    const fifo = this.#fifo;
    fifo.push(task, submittedAt, context);
    const added = this.#queue.add(this.#start);
    fifo.pushed();
    return added;
  }

  /**
   * The submitter's signal takes a task out of the queue; once it runs, the task alone decides
   * when to stop (p-queue would settle it at once and free its slot while it still runs).
   */
  #enqueueCancellable(
    task: Task<unknown>,
    submittedAt: number,
    context: AsyncResource | undefined,
    signal: AbortSignal,
  ): Promise<unknown> {
    this.entered();
    if (signal.aborted) {
      this.ended('rejected');
      return Promise.reject(signal.reason);
    }
    const queued = new AbortController();
    const abort = (): void => {
      // Still queued: the task never starts, and p-queue rejects its submitter with the reason.
      this.ended('rejected');
      queued.abort(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    const run = (): unknown => {
      signal.removeEventListener('abort', abort);
      return this.#run(task, submittedAt, contextToEnter(context), signal);
    };
    return this.#queue.add(run, { signal: queued.signal });
  }

  /**
   * Starts a task; what p-queue waits for (and settles the submitter with) is the task's result,
   * its synchronous throw, or for an async task the promise of its `Running`.
   */
  #run(
    task: Task<unknown>,
    submittedAt: number,
    context: AsyncResource | undefined,
    cancel: AbortSignal | undefined,
  ): unknown {
    if (this.#dropping) {
      this.ended('dropped');
      throw new PoolDroppedError(this.name, false);
    }
    const startedAt = this.observed ? this.clock.now() : Number.NaN;
    const signal = this.signalFor(cancel);
    let result: unknown;
    try {
      result = context ? context.runInAsyncScope(task, undefined, signal) : task(signal);
    } catch (error) {
      this.observeWait(submittedAt, startedAt);
      this.ended('error', startedAt);
      this.failed(error, cancel);
      throw error;
    }
    // Observed once the task's first synchronous part ran: the metric is off the submit-to-start path.
    this.observeWait(submittedAt, startedAt);
    if (typeof (result as PromiseLike<unknown> | null)?.then !== 'function') {
      this.ended('ok', startedAt);
      return result;
    }
    return this.#running(result as PromiseLike<unknown>, startedAt, cancel);
  }

  /** An async task from its start: its submitter settles when it does, or when the drain deadline drops it. */
  #running(result: PromiseLike<unknown>, startedAt: number, cancel: AbortSignal | undefined): Promise<unknown> {
    const job = new Running();
    const inFlight = this.#inFlight;
    inFlight.add(job);
    Promise.resolve(result).then(
      (value) => {
        inFlight.delete(job);
        if (job.end()) {
          this.ended('ok', startedAt);
          job.resolve(value);
        }
        if (inFlight.size === 0) this.#quiet?.();
      },
      (error: unknown) => {
        inFlight.delete(job);
        if (job.end()) {
          this.ended('error', startedAt);
          this.failed(error, cancel);
          job.reject(error);
        }
        if (inFlight.size === 0) this.#quiet?.();
      },
    );
    return job.promise;
  }

  protected hasRoom(): boolean {
    const queue = this.#queue;
    return queue.size < this.settings.maxQueue || queue.pending < queue.concurrency;
  }

  protected override dropJobs(): number {
    let dropped = 0;
    for (const job of this.#inFlight) {
      if (!job.end()) continue;
      dropped++;
      this.ended('dropped');
      job.reject(new PoolDroppedError(this.name, true));
    }
    // p-queue settles a task's submitter only by running it: with room for every queued task,
    // it starts them all at once, and each one's start drops it (#run), rejecting its submitter.
    const queued = this.#queue.size;
    this.#dropping = true;
    if (queued > 0) {
      const size = this.#queue.concurrency;
      this.#queue.concurrency = Number.POSITIVE_INFINITY;
      this.#queue.concurrency = size;
    }
    return dropped + queued;
  }

  protected async quiet(deadline: AbortSignal): Promise<void> {
    if (this.#inFlight.size === 0 || deadline.aborted) return;
    await new Promise<void>((resolve) => {
      deadline.addEventListener('abort', () => resolve(), { once: true });
      this.#quiet = resolve;
    });
  }

  protected async close(): Promise<void> {}
}

/** An async task of a TaskPool that started: its submitter's promise, settled once. */
class Running {
  readonly promise: Promise<unknown>;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  #ended = false;

  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Marks the end; false when it had ended already (the deadline dropped it). */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }
}
