import type { AsyncResource } from 'node:async_hooks';
import type { QueueAddOptions } from 'p-queue';
import { DionysusError } from '../errors.js';

/** p-queue's runner of one task: it calls the function given to `add` and settles `add`'s promise. */
export type RunFunction = () => Promise<unknown>;

/** A queued task: p-queue's runner and id, and for the pool's start function the task's state. */
export interface Entry {
  readonly run: RunFunction;
  readonly id: string | undefined;
  readonly task: ((signal: AbortSignal) => unknown) | undefined;
  /** Clock time of the submission; NaN when the task started inside submit (it never waited). */
  readonly submittedAt: number;
  readonly context: AsyncResource | undefined;
}

/** Past this many dequeued slots (and half the queue), the array drops them: amortised O(1) dequeues. */
const COMPACT_AFTER = 1024;

/**
 * The first-in, first-out queue class of a TaskPool's p-queue (`queueClass`).
 * Hand-written for the pool's targets (bench/pool: ≤ 1.1× bare p-queue per
 * queued task and from submit to start): a pool that gave p-queue a closure
 * and a job object per task kept 1,370 bytes per queued task against bare
 * p-queue's 805, and task state passed in `add`'s options costs ~300 ns
 * (p-queue spreads the options of every `add` into a copy). Here the one
 * entry per task (p-queue's PriorityQueue makes one too) carries the task's
 * state, handed in by `push` just before `add` (which enqueues synchronously)
 * and handed out by `take` when p-queue starts the task (it calls the runner
 * right after dequeuing it), so p-queue gets one start function for all tasks.
 * The pool never calls p-queue's `clear()` (it would replace this instance).
 */
export class Fifo {
  /** The instance p-queue's constructor just made: the pool takes it at once. */
  static made: Fifo | undefined;
  #entries: (Entry | undefined)[] = [];
  #head = 0;
  /** The state of the task the next `enqueue` queues (set by `push`). */
  #task: Entry['task'] = undefined;
  #submittedAt = Number.NaN;
  #context: AsyncResource | undefined = undefined;
  #pushed = false;
  /** The dequeued task of the start function not taken yet: p-queue runs each one right after dequeuing it. */
  #starting: Entry | undefined = undefined;

  constructor() {
    Fifo.made = this;
  }

  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** The state of the task the pool's next `add` queues; none for a task `add` gets as its own function. */
  push(task: Entry['task'], submittedAt: number, context: AsyncResource | undefined): void {
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
    this.#entries.push({
      run,
      id: options?.id,
      task: this.#task,
      submittedAt: this.#submittedAt,
      context: this.#context,
    });
    this.#task = this.#context = undefined;
    this.#pushed = false;
  }

  dequeue(): RunFunction | undefined {
    const entries = this.#entries;
    const head = this.#head;
    if (head === entries.length) return undefined;
    const entry = entries[head] as Entry;
    if (entry.task !== undefined) {
      if (this.#starting !== undefined) throw incompatible('dequeued a task before it started the one before');
      this.#starting = entry;
    }
    if (head + 1 === entries.length) {
      // An idle pool queues one task at a time: pop() is inline where setting length calls the
      // runtime (~80 ns against ~4 ns, on bench/pool's submit-to-start path).
      if (head === 0) entries.pop();
      else entries.length = 0;
      this.#head = 0;
    } else {
      entries[head] = undefined;
      this.#head = head + 1;
      if (this.#head > COMPACT_AFTER && this.#head > entries.length / 2) {
        entries.splice(0, this.#head);
        this.#head = 0;
      }
    }
    return entry.run;
  }

  /** The task p-queue starts now (what the pool's start function runs). */
  take(): Entry {
    const entry = this.#starting;
    if (entry === undefined) throw incompatible('started a task it did not dequeue');
    this.#starting = undefined;
    return entry;
  }

  /** A queued task whose signal aborted (p-queue removes it by id). */
  remove(id: string): void {
    const entries = this.#entries;
    for (let i = this.#head; i < entries.length; i++) {
      if (entries[i]?.id === id) {
        entries.splice(i, 1);
        return;
      }
    }
  }

  /** p-queue's `sizeBy`: the pool's tasks have no priorities, so every queued task matches. */
  filter(_options: Readonly<Partial<QueueAddOptions>>): RunFunction[] {
    return this.#entries.slice(this.#head).map((entry) => (entry as Entry).run);
  }

  setPriority(_id: string, _priority: number): void {
    throw new Error('the tasks of a dionysus TaskPool have no priorities');
  }
}

function incompatible(what: string): DionysusError {
  return new DionysusError(
    'internal',
    `dionysus/pool: this p-queue ${what}; the TaskPool needs p-queue 9 as it was tested (see the peerDependencies)`,
  );
}
