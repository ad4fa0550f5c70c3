import type { HookPhase } from '../plan/types.js';
import type { StopSignal } from './signals.js';

/** Where a lifecycle step runs. `framework` steps wrap the user's phases. */
export type Phase = 'framework' | HookPhase | 'run' | 'drain' | 'framework-post';

export type LifecycleState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export type Outcome = 'ok' | 'failed' | 'timeout';

export type LifecycleEvent =
  | { type: 'state'; state: LifecycleState; command: string }
  | { type: 'phase:start'; phase: Phase; command: string }
  | { type: 'phase:end'; phase: Phase; command: string; durationMs: number; outcome: Outcome }
  | { type: 'hook:start'; phase: Phase; hook: string; command: string }
  | {
      type: 'hook:end';
      phase: Phase;
      hook: string;
      command: string;
      durationMs: number;
      outcome: Outcome;
      error?: Error;
    }
  | { type: 'signal'; signal: StopSignal; command: string; forced: boolean }
  | { type: 'exit'; command: string; code: number; durationMs: number; errors: readonly Error[] }
  /** A runtime file (descriptor, heartbeat) could not be written (`error`), or could again (no `error`). */
  | { type: 'runtime:write'; command: string; path: string; error?: Error }
  /** A listener threw while handling an event of type `during`; the other listeners still got it. */
  | { type: 'listener:error'; command: string; during: LifecycleEvent['type']; error: unknown };

export type LifecycleListener = (event: LifecycleEvent) => void;

/**
 * The typed event stream of one command run. Logger, metrics, tracing and
 * health subscribe; a throwing listener never breaks the lifecycle: its
 * error is kept and emitted to the other listeners as `listener:error`, so
 * the logger reports it.
 */
export class LifecycleEvents {
  #listeners: LifecycleListener[] = [];
  #state: LifecycleState = 'idle';
  #failures: unknown[] = [];

  get state(): LifecycleState {
    return this.#state;
  }

  /** Errors thrown by listeners, kept so a broken subscriber is not silent. */
  get listenerFailures(): readonly unknown[] {
    return this.#failures;
  }

  on(listener: LifecycleListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  emit(event: LifecycleEvent): void {
    if (event.type === 'state') this.#state = event.state;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#failures.push(error);
        // A listener failing on a failure report is only kept: reporting it again could loop.
        if (event.type !== 'listener:error') this.#reportFailure(listener, event, error);
      }
    }
  }

  #reportFailure(failed: LifecycleListener, event: LifecycleEvent, error: unknown): void {
    const report: LifecycleEvent = { type: 'listener:error', command: event.command, during: event.type, error };
    for (const listener of this.#listeners) {
      if (listener === failed) continue;
      try {
        listener(report);
      } catch (again) {
        this.#failures.push(again);
      }
    }
  }
}
