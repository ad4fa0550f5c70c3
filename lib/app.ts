import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Container } from 'inversify';
import { buildCli, type Io, runCli } from './cli/cli.js';
import { type FrameworkSettings, frameworkDefaults } from './config/defaults.js';
import { mergeDeep } from './config/validate.js';
import { createAppContainer } from './container/container.js';
import { DionysusError, PlanError } from './errors.js';
import { healthStep } from './health/step.js';
import { type Clock, systemClock } from './lifecycle/clock.js';
import { type LifecycleEvent, LifecycleEvents } from './lifecycle/events.js';
import { type FrameworkStep, runLifecycle } from './lifecycle/lifecycle.js';
import { stderrReporter } from './lifecycle/reporter.js';
import type { ServerRunner } from './lifecycle/runner.js';
import { processSignals, type SignalSource } from './lifecycle/signals.js';
import { methodRunner } from './lifecycle/task.js';
import { appClasses, buildPlan } from './plan/plan.js';
import type { AppPlan, CommandPlan, ServerKind } from './plan/types.js';
import { POST_ORDER, telemetrySteps } from './telemetry/steps.js';

/** Everything `execute` can be handed instead of the process's own. */
export interface ExecuteOptions {
  readonly argv: readonly string[];
  readonly io?: Io;
  readonly signals?: SignalSource;
  readonly clock?: Clock;
  /** A container built by `createAppContainer` (e.g. with test overrides). */
  readonly container?: Container;
  /** Deep-merged over the defaults (and, later, over configuration). */
  readonly settings?: DeepPartial<FrameworkSettings>;
  /** Sees every lifecycle event of the run. */
  readonly onEvent?: (event: LifecycleEvent) => void;
  /** Defaults to process.env: configuration and OTEL_* variables are read from it. */
  readonly env?: NodeJS.ProcessEnv;
  /** Turns tracing on, exporting to this OpenTelemetry SpanExporter (e.g. an in-memory one in tests). */
  readonly spanExporter?: SpanExporter;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Server runners by kind, loaded only by the command that needs one. */
const RUNNERS: Record<ServerKind, () => Promise<ServerRunner> | ServerRunner> = {
  ctl: () => (require('./ctl/runner.js') as typeof import('./ctl/runner.js')).ctlRunner(),
  http: () => (require('./http/server.js') as typeof import('./http/server.js')).httpRunner(),
  grpc: () => {
    throw new DionysusError('run', 'the grpc server is not part of this version of dionysus');
  },
};

/** Plans the app, parses argv and runs the chosen command; resolves to the exit code. */
export async function execute(main: Function, options: ExecuteOptions): Promise<number> {
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr, colors: process.stdout.isTTY === true };
  let plan: AppPlan;
  try {
    plan = buildPlan(main);
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    io.stderr.write(`${error.message}\n`);
    return 1;
  }
  const cli = buildCli(plan, (command, values) => runCommand(plan, command, values, options, io), io.colors);
  return runCli(cli, options.argv, io);
}

async function runCommand(
  plan: AppPlan,
  command: CommandPlan,
  values: Record<string, unknown>,
  options: ExecuteOptions,
  io: Io,
): Promise<number> {
  const container = options.container ?? createAppContainer(appClasses(plan));
  const events = new LifecycleEvents();
  events.on(stderrReporter(plan.name, io.stderr));
  if (options.onEvent) events.on(options.onEvent);
  if (container.isBound(LifecycleEvents)) container.unbind(LifecycleEvents);
  container.bind(LifecycleEvents).toConstantValue(events);
  const clock = options.clock ?? systemClock;
  return runLifecycle({
    plan,
    command,
    container,
    events,
    clock,
    signals: options.signals ?? processSignals,
    settings: mergeDeep(frameworkDefaults(options.env), options.settings),
    steps: withHealth(
      telemetrySteps({
        env: options.env ?? process.env,
        stdout: io.stdout,
        overrides: options.settings,
        ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
      }),
      healthStep(clock),
      command.server === 'http' ? lazyStep('http', () => require('./http/server.js').httpStep()) : undefined,
    ),
    postOrder: POST_ORDER,
    runner: command.server ? RUNNERS[command.server] : () => methodRunner(),
    optionValues: values,
  });
}

/** The health step goes right after config: probe settings are known, telemetry can observe it. */
function withHealth(steps: FrameworkStep[], health: FrameworkStep, server: FrameworkStep | undefined): FrameworkStep[] {
  const at = steps.findIndex((s) => s.name === 'config') + 1;
  return [...steps.slice(0, at), health, ...steps.slice(at), ...(server ? [server] : [])];
}

/** A step whose module loads only when it starts (servers: koa, grpc-js). */
function lazyStep(name: string, load: () => FrameworkStep): FrameworkStep {
  let step: FrameworkStep | undefined;
  return {
    name,
    start: (context) => (step ??= load()).start(context),
    stop: () => step?.stop?.(),
  };
}

/**
 * Runs the app's CLI with the process's argv, streams and signals. Resolves
 * to the exit code; never calls `process.exit` (the launcher does).
 */
export function bootstrap(main: Function, argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  return execute(main, { argv });
}
