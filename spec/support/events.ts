import type { LifecycleEvent } from 'dionysus';

/**
 * Collects a run's lifecycle events and lets a test wait for one, so a spec
 * reacts to the lifecycle (advance the clock, send a signal) instead of sleeping.
 */
export class EventWatch {
  readonly seen: LifecycleEvent[] = [];
  #waiting: { match: (e: LifecycleEvent) => boolean; resolve: (e: LifecycleEvent) => void }[] = [];

  /** Pass as `runCommand`'s `onEvent`. */
  readonly onEvent = (event: LifecycleEvent): void => {
    this.seen.push(event);
    for (const waiter of [...this.#waiting]) {
      if (!waiter.match(event)) continue;
      this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  };

  /** Resolves with the first event (already seen or still to come) that matches. */
  when(match: (e: LifecycleEvent) => boolean): Promise<LifecycleEvent> {
    const hit = this.seen.find(match);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => this.#waiting.push({ match, resolve }));
  }

  /** Resolves once `hook` (`Class.method`) has started. */
  started(hook: string): Promise<LifecycleEvent> {
    return this.when((e) => e.type === 'hook:start' && e.hook === hook);
  }
}

/** A promise that never settles: a hook that hangs. */
export function never(): Promise<never> {
  return new Promise<never>(() => {});
}

/** Resolves when the signal aborts: a run that serves until stopped. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** The errors of the run's `exit` event. */
export function exitErrors(events: readonly LifecycleEvent[]): readonly Error[] {
  const exit = events.find((e) => e.type === 'exit');
  if (exit?.type !== 'exit') throw new Error('the run emitted no exit event');
  return exit.errors;
}
