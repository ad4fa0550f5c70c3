import type { Phase } from './events.js';

/** How long one call may take. */
export interface Deadline {
  /** Aborts when the call's time is up: its own deadline, or the shutdown budget once a stop signal came. */
  readonly signal: AbortSignal;
  /** The call's own deadline in ms (a hook's `timeoutMs`, else `dionysus.hooks.timeoutMs`). */
  readonly timeoutMs: number;
}

/**
 * The one seam between the lifecycle and its parts, as in uber-go/fx's
 * lifecycle: components start in the order of their list; those that started
 * drain (on a stop signal) and then stop in reverse, each call under a
 * deadline, every error collected. The framework's own parts (logger, config,
 * health, tracing, metrics, the http app, the runtime descriptor) are
 * components; users' hooks wrap into one component per class (owners.ts).
 */
export interface Component {
  /** Its calls are the hook `framework.<name>` in events and logs. */
  readonly name: string;
  start?(deadline: Deadline): unknown;
  /** After a stop signal, before any `stop`: stop taking work, finish what is in flight. */
  drain?(deadline: Deadline): unknown;
  /** Only when `start` succeeded (or it has none). */
  stop?(deadline: Deadline): unknown;
  /** Once started, runs every later call inside its own context (tracing: one span per hook). */
  around?<T>(hook: string, phase: Phase, fn: () => T): T;
}
