import type { Container } from 'inversify';
import type { CommandPlan } from '../plan/types.js';

/** What a runner gets to start a command's run; its framework objects come as arguments of its factory. */
export interface RunContext {
  readonly command: CommandPlan;
  /** The resolved command instance. */
  readonly instance: object;
  /** The users' classes (controllers, gRPC services) are built from it. */
  readonly container: Container;
  /** Fires when the run must stop: after servers drained, or at once for tasks. */
  readonly signal: AbortSignal;
}

/** A started run. */
export interface RunHandle {
  /** Settles when the run ends by itself: a task returning, a server failing. */
  readonly ended: Promise<void>;
  /**
   * Servers only: stop accepting, finish in-flight work. Called after the drain
   * delay; `deadline` aborts when the shutdown budget is spent. A handle
   * without `drain` serves no traffic, so the drain delay is skipped for it.
   */
  drain?(deadline: AbortSignal): Promise<void>;
  /** Forced stop, when the budget is spent or the run failed. Must be idempotent. */
  close?(): Promise<void> | void;
}

/**
 * The command's run: a server (http, grpc, ctl) or a task, the last
 * component to start and the first to drain and stop.
 */
export interface ServerRunner {
  /** A label for messages, e.g. `http server`. */
  readonly label: string;
  /** Resolves once the run has started (a server listening). */
  start(context: RunContext): Promise<RunHandle>;
}
