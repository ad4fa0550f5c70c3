import { join } from 'node:path';
import type { TransferListItem } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { BoundedPool, type PoolOptions, type SubmitOptions } from './core.js';
import type { CpuJob, CpuOutcome } from './cpu-worker.js';

export interface CpuPoolOptions extends PoolOptions {
  /** The worker module (absolute path or file URL); its default export, or `name`, is the task function. */
  filename: string;
  /** The export of `filename` that runs a task. @default 'default' */
  name?: string;
  /** Threads kept when idle (at most `size`). @default 1 */
  minThreads?: number;
}

export interface CpuRunOptions extends SubmitOptions {
  /** Another export of the worker module for this task. */
  name?: string;
  /** Buffers moved to the worker instead of copied. */
  transferList?: readonly TransferListItem[];
}

/**
 * A pool of worker threads (piscina) for CPU-bound work, with the same
 * admission, drain deadline and metrics as `TaskPool`: `size` threads,
 * at most `maxQueue` tasks waiting. A task dropped at the drain deadline has
 * its thread terminated (a thread cannot be asked to stop).
 * @example
 * const hashes = new CpuPool('hash', { filename: require.resolve('./hash-worker.js'), size: 2 });
 * const digest = await hashes.run(buffer);
 */
export class CpuPool<In = unknown, Out = unknown> extends BoundedPool {
  protected override readonly startsKnown = false;
  readonly #piscina: Piscina;
  readonly #filename: string;
  readonly #name: string;
  #inFlight = 0;
  #settled?: () => void;

  constructor(name: string, options: CpuPoolOptions) {
    const { filename, name: exportName, minThreads, ...rest } = options;
    super(name, rest);
    this.#filename = filename;
    this.#name = exportName ?? 'default';
    // piscina loads when a pool is built, never on import.
    const { Piscina } = require('piscina') as typeof import('piscina');
    const size = this.settings.size;
    this.#piscina = new Piscina({
      filename: join(__dirname, 'cpu-worker.js'),
      name: 'runJob',
      maxThreads: size,
      minThreads: Math.min(minThreads ?? 1, size),
      // Admission is the pool's own (blocking or not, with its timeout); piscina never refuses.
      maxQueue: Number.POSITIVE_INFINITY,
    });
  }

  get capacity(): number {
    return this.settings.size;
  }

  get running(): number {
    return Math.max(0, this.#inFlight - this.waiting);
  }

  get waiting(): number {
    return Math.min(this.#piscina.queueSize, this.#inFlight);
  }

  /** Runs the worker's task function on `input` in a thread; resolves with what it returns. */
  run(input: In, options: CpuRunOptions = {}): Promise<Out> {
    const job: CpuJob = { filename: this.#filename, name: options.name ?? this.#name, input };
    return this.admit(async (began) => {
      this.#inFlight++;
      try {
        const outcome = (await this.#piscina.run(job, {
          signal: this.signalFor(options.signal),
          transferList: options.transferList as never,
        })) as CpuOutcome;
        // The worker's start, in this thread's performance clock (the system clock's units).
        began(outcome.startedAt - performance.timeOrigin);
        return outcome.value as Out;
      } finally {
        this.#inFlight--;
        if (this.#inFlight === 0) this.#settled?.();
        this.wake();
      }
    }, options);
  }

  protected hasRoom(): boolean {
    return this.#inFlight < this.settings.size + this.settings.maxQueue;
  }

  protected async quiet(deadline: AbortSignal): Promise<void> {
    if (this.#inFlight === 0 || deadline.aborted) return;
    await new Promise<void>((resolve) => {
      deadline.addEventListener('abort', () => resolve(), { once: true });
      this.#settled = resolve;
    });
  }

  protected async close(): Promise<void> {
    await this.#piscina.destroy();
  }
}
