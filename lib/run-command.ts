/**
 * Runs one planned command: its container, lifecycle events, framework steps
 * (telemetry, health, the server) and runner, through the lifecycle. app.ts
 * loads this module only when a command runs, so `--help` and usage errors
 * never load the lifecycle, health or telemetry code.
 */
import type { ExecuteOptions } from './app.js';
import type { Io } from './cli/cli.js';
import { Output } from './cli/output.js';
import { frameworkDefaults } from './config/defaults.js';
import { mergeDeep } from './config/validate.js';
import { bindConstant, createAppContainer } from './container/container.js';
import { healthStep } from './health/step.js';
import { Clock, systemClock } from './lifecycle/clock.js';
import { LifecycleEvents } from './lifecycle/events.js';
import { type FrameworkStep, runLifecycle } from './lifecycle/lifecycle.js';
import { stderrReporter } from './lifecycle/reporter.js';
import type { ServerRunner } from './lifecycle/runner.js';
import { processSignals } from './lifecycle/signals.js';
import { methodRunner } from './lifecycle/task.js';
import type { AppPlan, CommandPlan, ServerKind } from './plan/types.js';
import { POST_ORDER, telemetrySteps } from './telemetry/steps.js';

/** Server runners by kind, loaded only by the command that needs one. */
const RUNNERS: Record<ServerKind, () => Promise<ServerRunner> | ServerRunner> = {
  ctl: () => (require('./ctl/runner.js') as typeof import('./ctl/runner.js')).ctlRunner(),
  http: () => (require('./http/server.js') as typeof import('./http/server.js')).httpRunner(),
  grpc: () => (require('./grpc/server.js') as typeof import('./grpc/server.js')).grpcRunner(),
};

/** Runs `command` with its parsed option values through the lifecycle; resolves to the exit code. */
export async function runCommand(
  plan: AppPlan,
  command: CommandPlan,
  values: Record<string, unknown>,
  options: ExecuteOptions,
  io: Io,
): Promise<number> {
  const container = options.container ?? createAppContainer(plan, command);
  const events = new LifecycleEvents();
  events.on(stderrReporter(plan.name, io.stderr));
  if (options.onEvent) events.on(options.onEvent);
  bindConstant(container, LifecycleEvents, events);
  const clock = options.clock ?? systemClock;
  bindConstant(container, Clock, clock);
  bindConstant(container, Output, io.stdout as Output);
  const given = mergeDeep(options.config ?? {}, options.settings ? { dionysus: options.settings } : undefined);
  return runLifecycle({
    plan,
    command,
    container,
    events,
    clock,
    signals: options.signals ?? processSignals,
    settings: mergeDeep(frameworkDefaults(options.env), given.dionysus),
    steps: withHealth(
      telemetrySteps({
        env: options.env ?? process.env,
        stdout: io.stdout,
        stderr: io.stderr,
        overrides: given,
        ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
      }),
      healthStep(clock, options.env ?? process.env),
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
