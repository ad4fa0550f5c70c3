import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Container } from 'inversify';
import { buildCli, type Complete, type Execute, type Io, runCli } from './cli/cli.js';
import type { FrameworkSettings } from './config/defaults.js';
import { PlanError } from './errors.js';
import type { Clock } from './lifecycle/clock.js';
import type { LifecycleEvent } from './lifecycle/events.js';
import type { SignalSource } from './lifecycle/signals.js';
import { buildPlan, type PlanOptions, withLazyLists } from './plan/plan.js';
import type { AppPlan } from './plan/types.js';

/** Everything `execute` can be handed instead of the process's own. */
export interface ExecuteOptions {
  readonly argv: readonly string[];
  readonly io?: Io;
  readonly signals?: SignalSource;
  readonly clock?: Clock;
  /** A container built by `createAppContainer` (e.g. with test overrides). */
  readonly container?: Container;
  /**
   * Configuration of this run, deep-merged over the config files and the
   * environment: the app's own keys and `dionysus`, e.g.
   * `{ greeting: { text: 'hi' }, dionysus: { log: { level: 'warn' } } }`.
   */
  readonly config?: Readonly<Record<string, unknown>>;
  /** `config.dionysus`, typed; merged over `config`. */
  readonly settings?: DeepPartial<FrameworkSettings>;
  /** Sees every lifecycle event of the run. */
  readonly onEvent?: (event: LifecycleEvent) => void;
  /** Defaults to process.env: configuration and OTEL_* variables are read from it. */
  readonly env?: NodeJS.ProcessEnv;
  /** Turns tracing on, exporting to this OpenTelemetry SpanExporter (e.g. an in-memory one in tests). */
  readonly spanExporter?: SpanExporter;
  /**
   * The @Controller and @GrpcService classes the app's modules declared; one
   * that no command lists gets a warning line on stderr. The launcher sets it.
   */
  readonly declared?: readonly Function[];
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

type RunCommandModule = typeof import('./run-command.js');

/** Plans the app, parses argv and runs the chosen command; resolves to the exit code. */
export async function execute(main: Function, options: ExecuteOptions): Promise<number> {
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr, colors: process.stdout.isTTY === true };
  let plan: AppPlan;
  const { container, declared } = options;
  const planOptions: PlanOptions = {
    ...(declared ? { declared } : {}),
    // A test container's override may bind tokens no provider does.
    ...(container ? { isBound: (token: unknown) => container.isBound(token as never) } : {}),
  };
  try {
    plan = buildPlan(main, planOptions);
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    io.stderr.write(`${error.message}\n`);
    return 1;
  }
  for (const warning of plan.warnings) io.stderr.write(`${plan.name}: warning: ${warning}\n`);
  // What runs a command (container, lifecycle, health, telemetry, servers)
  // loads only when one runs: `--help`, `--version` and usage errors never pay
  // for it (bench/cold-start.bench.ts measures this).
  // Lazy controllers and services load when their command runs (or is documented), not for `--help`.
  const complete: Complete = async (command) => {
    const loaded = await withLazyLists(plan, command, planOptions);
    for (const warning of loaded.plan.warnings) {
      if (!plan.warnings.includes(warning)) io.stderr.write(`${plan.name}: warning: ${warning}\n`);
    }
    return loaded;
  };
  const run: Execute = async (command, values) => {
    let loaded: Awaited<ReturnType<Complete>>;
    try {
      loaded = await complete(command);
    } catch (error) {
      if (!(error instanceof PlanError)) throw error;
      io.stderr.write(`${error.message}\n`);
      return 1;
    }
    const { runCommand } = require('./run-command.js') as RunCommandModule;
    return runCommand(loaded.plan, loaded.command, values, options, io);
  };
  const cli = buildCli(plan, run, io.colors, complete);
  return runCli(cli, options.argv, io, plan);
}

/**
 * Runs the app's CLI with the process's argv, streams and signals. Resolves
 * to the exit code; never calls `process.exit` (the launcher does).
 */
export function bootstrap(main: Function, argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  return execute(main, { argv });
}
