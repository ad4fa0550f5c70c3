/**
 * dionysus: decorated classes in, one service binary out.
 * Importing this module loads reflect-metadata, so decorator metadata works.
 */
export * from '../decorators/index.js';
export { Output } from './cli/output.js';
export { AppConfig, InjectConfig } from './config/app-config.js';
export { DionysusError, type ErrorKind, HookError, HookTimeoutError, PlanError } from './errors.js';
export { GrpcError } from './grpc/errors.js';
export { type CheckResult, Health, type Probe, type ProbeReport } from './health/health.js';
export { HttpError, type HttpErrorOptions, type RequestIssue, RequestValidationError } from './http/errors.js';
export { launch } from './launch.js';
export { Clock } from './lifecycle/clock.js';
export {
  type LifecycleEvent,
  LifecycleEvents,
  type LifecycleListener,
  type LifecycleState,
  type Outcome,
  type Phase,
} from './lifecycle/events.js';
export type { SignalSource, StopSignal } from './lifecycle/signals.js';
export { Logger } from './telemetry/tokens.js';

import type { ExecuteOptions } from './app.js';

export type { ExecuteOptions } from './app.js';

// The runtime (inversify, clipanion) loads on first call, so importing the
// decorators costs little and the probe path never pays for it.
type AppModule = typeof import('./app.js');
const app = (): AppModule => require('./app.js') as AppModule;

/**
 * Runs the app's CLI with the process's argv, streams and signals. Resolves
 * to the exit code; never calls `process.exit`.
 */
export function bootstrap(main: Function, argv?: readonly string[]): Promise<number> {
  return app().bootstrap(main, argv);
}

/** `bootstrap` with every process dependency injectable: argv, streams, signals, clock, container. */
export function execute(main: Function, options: ExecuteOptions): Promise<number> {
  return app().execute(main, options);
}
