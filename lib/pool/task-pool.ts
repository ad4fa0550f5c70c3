import { AsyncResource } from 'node:async_hooks';
import type PQueue from 'p-queue';
import { BoundedPool, checkSize, type PoolOptions, type SubmitOptions, Ticket } from './core.js';

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
  readonly #queue: PQueue;
  /** What `accept` calls for every admitted job: one function, not one per submission. */
  readonly #enter = (ticket: Ticket): void => this.#enqueue(ticket as Job);

  constructor(name: string, options: TaskPoolOptions = {}) {
    super(name, options);
    // p-queue is ESM-only: required (require(esm), Node ≥ 20.19) when a pool is built, never on import.
    const { default: Queue } = require('p-queue') as typeof import('p-queue');
    this.#queue = new Queue({ concurrency: this.settings.size });
    this.#queue.on('next', () => this.wake());
  }

  get capacity(): number {
    return this.#queue.concurrency;
  }

  get running(): number {
    return this.#queue.pending;
  }

  get waiting(): number {
    return this.#queue.size;
  }

  /**
   * Runs `task` in the pool; resolves with its result, rejects with its error
   * or with a `PoolError` (`PoolFullError`, `PoolTimeoutError`,
   * `PoolClosedError`, `PoolDroppedError`).
   */
  submit<T>(task: Task<T>, options: SubmitOptions = {}): Promise<T> {
    return this.#submit(task, options);
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

  #submit<T>(task: Task<T>, options: SubmitOptions, accepted?: () => void): Promise<T> {
    const queue = this.#queue;
    // A task that starts inside submit already runs in the submitter's context, and never waits;
    // only one that waits is bound to the context (and timed from its submission).
    const startsNow = this.blocked === 0 && queue.size === 0 && queue.pending < queue.concurrency;
    const job = startsNow
      ? new Job(undefined, options.signal, task, undefined, accepted)
      : new Job(
          this.observed ? this.clock.now() : undefined,
          options.signal,
          task,
          new AsyncResource('dionysus.pool.task'),
          accepted,
        );
    return this.accept<T>(job, options, this.#enter);
  }

  #enqueue(job: Job): void {
    job.accepted?.();
    const signal = job.cancel;
    if (signal === undefined) {
      // The job settles its ticket itself and never rejects: p-queue's promise needs no handler.
      void this.#queue.add<unknown>(() => this.#run(job));
      return;
    }
    // The submitter's signal takes a task out of the queue; once it runs, the task alone decides
    // when to stop (p-queue would settle it at once and free its slot while it still runs).
    const whileQueued = queuedSignal(signal);
    this.#queue
      .add<unknown>(
        () => {
          whileQueued.started();
          return this.#run(job);
        },
        { signal: whileQueued.signal },
      )
      .catch((error: unknown) => this.fail(job, error));
  }

  /** Runs the job's task; what p-queue waits for (and holds the worker for) is the task's own end. */
  #run(job: Job): Promise<void> | undefined {
    job.startedAt = this.clock.now();
    const signal = this.signalFor(job.cancel);
    let result: unknown;
    try {
      result = job.context ? job.context.runInAsyncScope(job.task, undefined, signal) : job.task(signal);
    } catch (error) {
      this.waited(job);
      this.fail(job, error);
      return undefined;
    }
    // Observed once the task's first synchronous part ran: the metric is off the submit-to-start path.
    this.waited(job);
    if (typeof (result as PromiseLike<unknown> | null)?.then !== 'function') {
      this.settle(job, result);
      return undefined;
    }
    return Promise.resolve(result).then(
      (value) => this.settle(job, value),
      (error: unknown) => this.fail(job, error),
    );
  }

  protected hasRoom(): boolean {
    const queue = this.#queue;
    return queue.size < this.settings.maxQueue || queue.pending < queue.concurrency;
  }

  protected clearQueue(): void {
    this.#queue.clear();
  }

  protected async quiet(deadline: AbortSignal): Promise<void> {
    if (this.#queue.pending === 0 || deadline.aborted) return;
    await new Promise<void>((resolve) => {
      deadline.addEventListener('abort', () => resolve(), { once: true });
      void this.#queue.onPendingZero().then(resolve);
    });
  }

  protected async close(): Promise<void> {
    this.#queue.clear();
  }
}

/** A submission of a TaskPool: its task, and the submitter's async context when it waits. */
class Job extends Ticket {
  readonly task: Task<unknown>;
  readonly context: AsyncResource | undefined;
  /** Called once the task is accepted (`post`). */
  readonly accepted: (() => void) | undefined;

  constructor(
    submittedAt: number | undefined,
    cancel: AbortSignal | undefined,
    task: Task<unknown>,
    context: AsyncResource | undefined,
    accepted: (() => void) | undefined,
  ) {
    super(submittedAt, cancel);
    this.task = task;
    this.context = context;
    this.accepted = accepted;
  }
}

/** A signal that follows `signal` until `started()` is called. */
function queuedSignal(signal: AbortSignal): { readonly signal: AbortSignal; started(): void } {
  const queued = new AbortController();
  const abort = (): void => queued.abort(signal.reason);
  if (signal.aborted) abort();
  else signal.addEventListener('abort', abort, { once: true });
  return { signal: queued.signal, started: () => signal.removeEventListener('abort', abort) };
}
