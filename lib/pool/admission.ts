import type { Clock } from '../lifecycle/clock.js';
import { type PoolError, PoolTimeoutError } from './errors.js';

/** How one submission waits for room. */
export interface AdmitOptions {
  readonly nonBlocking: boolean;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

interface Waiter {
  enter(): void;
  fail(error: unknown): void;
}

/**
 * Admission to a bounded pool: a submission enters at once when there is
 * room, else fails at once (non-blocking) or waits its turn, first come first
 * served, until room appears, its signal aborts or its finite wait runs out.
 * `enter` must take the room synchronously, so a woken waiter cannot lose it.
 */
export class Admission {
  readonly #pool: string;
  readonly #hasRoom: () => boolean;
  readonly #full: () => PoolError;
  readonly #clock: Clock;
  readonly #refused: (outcome: 'rejected' | 'timeout') => void;
  readonly #waiters: Waiter[] = [];

  constructor(options: {
    pool: string;
    clock: Clock;
    hasRoom: () => boolean;
    /** The error of a non-blocking submission that found no room. */
    full: () => PoolError;
    refused: (outcome: 'rejected' | 'timeout') => void;
  }) {
    this.#pool = options.pool;
    this.#clock = options.clock;
    this.#hasRoom = options.hasRoom;
    this.#full = options.full;
    this.#refused = options.refused;
  }

  /** Submissions waiting for room. */
  get blocked(): number {
    return this.#waiters.length;
  }

  admit<T>(enter: () => Promise<T>, options: AdmitOptions): Promise<T> {
    // Waiters first: a new submission never overtakes one that waits.
    if (this.#waiters.length === 0 && this.#hasRoom()) return enter();
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return this.#refuse('rejected', signal.reason);
    if (options.nonBlocking) return this.#refuse('rejected', this.#full());
    return new Promise<T>((resolve, reject) => {
      const leave = (): void => {
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
      };
      const waiter: Waiter = {
        enter: () => {
          leave();
          enter().then(resolve, reject);
        },
        fail: (error) => {
          leave();
          this.#refused(error instanceof PoolTimeoutError ? 'timeout' : 'rejected');
          reject(error);
        },
      };
      const aborted = (): void => waiter.fail(signal?.reason);
      const timer = this.#clock.setTimeout(() => waiter.fail(new PoolTimeoutError(this.#pool, timeoutMs)), timeoutMs);
      signal?.addEventListener('abort', aborted, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Lets waiters in while there is room; call whenever room may have appeared. */
  wake(): void {
    while (this.#waiters.length > 0 && this.#hasRoom()) this.#waiters[0]!.enter();
  }

  /** Fails every waiter with `error` (the pool closed). */
  failAll(error: unknown): void {
    for (const waiter of [...this.#waiters]) waiter.fail(error);
  }

  #refuse<T>(outcome: 'rejected' | 'timeout', error: unknown): Promise<T> {
    this.#refused(outcome);
    return Promise.reject(error);
  }
}
