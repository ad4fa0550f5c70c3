/**
 * Time as the lifecycle sees it, injectable by type: the system clock in the
 * binary, a `FakeClock` when a test passes one (dionysus/testing), so timers
 * of your own move with the test's time too.
 * @example
 * constructor(private readonly clock: Clock) {}
 * const timer = this.clock.setTimeout(retry, 5_000);
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the class is only a container token; the interface gives it its methods
export abstract class Clock {}
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** perf_hooks' `performance`, required on the first clock read: `--help` and the probes never read one. */
let performanceHooks: typeof import('node:perf_hooks').performance | undefined;

export const systemClock: Clock = {
  // perf_hooks' object, not the global: on Node 20 the global `performance` is a lazy getter
  // on every read (~10 ns a clock read; the pool reads it three times a task, bench/pool).
  now: () => (performanceHooks ??= (require('node:perf_hooks') as typeof import('node:perf_hooks')).performance).now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `ms` on the given clock, or at once when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clock.clearTimeout(handle);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const handle = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
