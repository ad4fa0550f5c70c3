import type { AsyncResource } from 'node:async_hooks';
import type { QueueAddOptions } from 'p-queue';
import { DionysusError } from '../errors.js';

/** p-queue's runner of one task: it calls the function given to `add` and settles `add`'s promise. */
export type RunFunction = () => Promise<unknown>;

/** A task of the pool's start function (none for a task `add` gets as its own function). */
export type QueuedTask = ((signal: AbortSignal) => unknown) | undefined;

/** The first capacity of the rings; they double when full. */
const FIRST_CAPACITY = 16;
/** Rings this large go back to the first capacity once empty: a burst does not keep its memory. */
const SHRINK_FROM = 4096;

/**
 * The first-in, first-out queue class of a TaskPool's p-queue (`queueClass`).
 * Hand-written for the pool's targets (bench/pool: ≤ 1.1× bare p-queue per
 * queued task and from submit to start): a pool that gave p-queue a closure
 * and a job object per task kept 1,370 bytes per queued task against bare
 * p-queue's 805, and task state passed in `add`'s options costs ~300 ns
 * (p-queue spreads the options of every `add` into a copy). Here a queued
 * task is one slot in each of five parallel rings (runner, id, task,
 * submission time, context): 40 bytes, where an entry object per task (as
 * p-queue's PriorityQueue makes) with a boxed submission time took 88, and
 * the queued round of bench/pool is mostly scavenges copying what every
 * waiting task keeps alive. The task's state is handed in by `push` just
 * before `add` (which enqueues synchronously) and handed out by `take` when
 * p-queue starts the task (it calls the runner right after dequeuing it), so
 * p-queue gets one start function for all tasks. The pool never calls
 * p-queue's `clear()` (it would replace this instance).
 */
export class Fifo {
  /** The instance p-queue's constructor just made: the pool takes it at once. */
  static made: Fifo | undefined;
  #runs: (RunFunction | undefined)[] = slots(FIRST_CAPACITY);
  #ids: (string | undefined)[] = slots(FIRST_CAPACITY);
  #tasks: QueuedTask[] = slots(FIRST_CAPACITY);
  /** Clock time of each submission; NaN when the task started inside submit (it never waited). */
  #times = new Float64Array(FIRST_CAPACITY);
  #contexts: (AsyncResource | undefined)[] = slots(FIRST_CAPACITY);
  /** Capacity − 1 (the capacity is a power of two). */
  #mask = FIRST_CAPACITY - 1;
  #head = 0;
  #size = 0;
  /** The state of the task the next `enqueue` queues (set by `push`). */
  #task: QueuedTask = undefined;
  #submittedAt = Number.NaN;
  #context: AsyncResource | undefined = undefined;
  #pushed = false;
  /** The dequeued task of the start function not taken yet: p-queue runs each one right after dequeuing it. */
  #starting: QueuedTask = undefined;
  #startingAt = Number.NaN;
  #startingContext: AsyncResource | undefined = undefined;

  constructor() {
    Fifo.made = this;
  }

  get size(): number {
    return this.#size;
  }

  /** The state of the task the pool's next `add` queues; none for a task `add` gets as its own function. */
  push(task: QueuedTask, submittedAt: number, context: AsyncResource | undefined): void {
    this.#task = task;
    this.#submittedAt = submittedAt;
    this.#context = context;
    this.#pushed = true;
  }

  /** Called after each `add`: p-queue must have queued the task at once, as the pool relies on. */
  pushed(): void {
    if (this.#pushed) throw incompatible('queues a task after add() returned');
  }

  enqueue(run: RunFunction, options?: Partial<QueueAddOptions>): void {
    if (this.#size > this.#mask) this.#resize((this.#mask + 1) * 2);
    const at = (this.#head + this.#size) & this.#mask;
    this.#runs[at] = run;
    this.#ids[at] = options?.id;
    this.#tasks[at] = this.#task;
    this.#times[at] = this.#submittedAt;
    this.#contexts[at] = this.#context;
    this.#size++;
    this.#task = this.#context = undefined;
    this.#pushed = false;
  }

  dequeue(): RunFunction | undefined {
    if (this.#size === 0) return undefined;
    const at = this.#head;
    const run = this.#runs[at];
    const task = this.#tasks[at];
    if (task !== undefined) {
      if (this.#starting !== undefined) throw incompatible('dequeued a task before it started the one before');
      this.#starting = task;
      this.#startingAt = this.#times[at] as number;
      this.#startingContext = this.#contexts[at];
    }
    this.#clear(at);
    this.#head = (at + 1) & this.#mask;
    if (--this.#size === 0 && this.#mask + 1 >= SHRINK_FROM) this.#resize(FIRST_CAPACITY);
    return run;
  }

  /** The task p-queue starts now (what the pool's start function runs); then `takenAt` and `takeContext`. */
  take(): NonNullable<QueuedTask> {
    const task = this.#starting;
    if (task === undefined) throw incompatible('started a task it did not dequeue');
    this.#starting = undefined;
    return task;
  }

  /** When the task `take` returned was submitted (NaN: it never waited). */
  get takenAt(): number {
    return this.#startingAt;
  }

  /** The context of the task `take` returned; this queue keeps no reference to it after. */
  takeContext(): AsyncResource | undefined {
    const context = this.#startingContext;
    this.#startingContext = undefined;
    return context;
  }

  /** A queued task whose signal aborted (p-queue removes it by id): the tasks behind it move up one slot. */
  remove(id: string): void {
    const mask = this.#mask;
    const head = this.#head;
    for (let i = 0; i < this.#size; i++) {
      if (this.#ids[(head + i) & mask] !== id) continue;
      for (let j = i; j < this.#size - 1; j++) this.#move((head + j + 1) & mask, (head + j) & mask);
      this.#size--;
      this.#clear((head + this.#size) & mask);
      return;
    }
  }

  /** p-queue's `sizeBy`: the pool's tasks have no priorities, so every queued task matches. */
  filter(_options: Readonly<Partial<QueueAddOptions>>): RunFunction[] {
    const runs: RunFunction[] = [];
    for (let i = 0; i < this.#size; i++) runs.push(this.#runs[(this.#head + i) & this.#mask] as RunFunction);
    return runs;
  }

  setPriority(_id: string, _priority: number): void {
    throw new Error('the tasks of a dionysus TaskPool have no priorities');
  }

  #move(from: number, to: number): void {
    this.#runs[to] = this.#runs[from];
    this.#ids[to] = this.#ids[from];
    this.#tasks[to] = this.#tasks[from];
    this.#times[to] = this.#times[from] as number;
    this.#contexts[to] = this.#contexts[from];
  }

  #clear(at: number): void {
    this.#runs[at] = undefined;
    this.#ids[at] = undefined;
    this.#tasks[at] = undefined;
    this.#contexts[at] = undefined;
  }

  /** New rings of `capacity` (a power of two, at least the size), the oldest task first. */
  #resize(capacity: number): void {
    const runs = slots<RunFunction>(capacity);
    const ids = slots<string>(capacity);
    const tasks = slots<NonNullable<QueuedTask>>(capacity);
    const times = new Float64Array(capacity);
    const contexts = slots<AsyncResource>(capacity);
    for (let i = 0; i < this.#size; i++) {
      const at = (this.#head + i) & this.#mask;
      runs[i] = this.#runs[at];
      ids[i] = this.#ids[at];
      tasks[i] = this.#tasks[at];
      times[i] = this.#times[at] as number;
      contexts[i] = this.#contexts[at];
    }
    this.#runs = runs;
    this.#ids = ids;
    this.#tasks = tasks;
    this.#times = times;
    this.#contexts = contexts;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}

/** An array of `length` empty slots, packed (filled with undefined) so reads stay fast. */
function slots<T>(length: number): (T | undefined)[] {
  return new Array<T | undefined>(length).fill(undefined);
}

function incompatible(what: string): DionysusError {
  return new DionysusError(
    'internal',
    `dionysus/pool: this p-queue ${what}; the TaskPool needs p-queue 9 as it was tested (see the peerDependencies)`,
  );
}
