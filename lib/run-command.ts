/**
 * The composition root of one command run: settings are loaded and validated
 * once, before anything starts; then the command's parts are built, each
 * given what it needs, and listed in start order for the lifecycle. app.ts
 * loads this module only when a command runs, so `--help` and usage errors
 * never load the lifecycle, health or telemetry code.
 */
import type { Container } from 'inversify';
import type { ExecuteOptions } from './app.js';
import type { Io } from './cli/cli.js';
import { Output } from './cli/output.js';
import { AppConfig, bindConfiguration } from './config/app-config.js';
import { type FrameworkSettings, frameworkDefaults, LOG_LEVELS, type LogLevel } from './config/defaults.js';
import { type LoadedConfig, loadConfiguration, type StopHook, stopHooksOf } from './config/load.js';
import { mergeDeep } from './config/validate.js';
import { bindConstant, createAppContainer } from './container/container.js';
import { createHealth } from './health/step.js';
import { IN_MEMORY } from './http/in-memory.js';
import { Clock, systemClock } from './lifecycle/clock.js';
import type { Component } from './lifecycle/component.js';
import { LifecycleEvents } from './lifecycle/events.js';
import { type Composition, runLifecycle } from './lifecycle/lifecycle.js';
import { stderrReporter } from './lifecycle/reporter.js';
import type { ServerRunner } from './lifecycle/runner.js';
import { processSignals } from './lifecycle/signals.js';
import { methodRunner } from './lifecycle/task.js';
import type { AppPlan, CommandPlan } from './plan/types.js';
import { createTelemetry } from './telemetry/steps.js';

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
  const env = options.env ?? process.env;
  bindConstant(container, Clock, clock);
  bindConstant(container, Output, io.stdout as Output);
  // A test's whole config tree (its app keys and `dionysus`), `settings` being the shorthand for the latter.
  const given = mergeDeep(options.config ?? {}, options.settings ? { dionysus: options.settings } : undefined);
  return runLifecycle({
    plan,
    command,
    container,
    events,
    clock,
    signals: options.signals ?? processSignals,
    compose: () => compose({ plan, command, options, io, container, events, clock, env, given }),
    optionValues: values,
  });
}

interface Parts {
  readonly plan: AppPlan;
  readonly command: CommandPlan;
  readonly options: ExecuteOptions;
  readonly io: Io;
  readonly container: Container;
  readonly events: LifecycleEvents;
  readonly clock: Clock;
  readonly env: NodeJS.ProcessEnv;
  /** The config tree given for this run (tests), over the files and NODE_CONFIG. */
  readonly given: { dionysus?: unknown };
}

/** Loads the settings once, builds each part with what it needs, and lists them in start order. */
function compose({ plan, command, options, io, container, events, clock, env, given }: Parts): Composition {
  const stopHooks = stopHooksOf(plan, command);
  const loaded = load(env, given, stopHooks);
  const settings = loaded.config?.settings ?? fallbackSettings(env, given.dionysus);
  const telemetry = createTelemetry({
    app: plan.name,
    main: plan.main,
    command: command.name,
    version: () => (require('./cli/version.js') as typeof import('./cli/version.js')).appVersion(plan.version),
    server: command.server !== undefined,
    settings,
    env,
    stdout: io.stdout,
    stderr: io.stderr,
    events,
    container,
    ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
  });
  const config = configComponent(container, loaded);
  let components: Component[] = [telemetry.logger, config];
  let serving: Component[] = [];
  let runner: () => ServerRunner = () => methodRunner();
  if (loaded.config) {
    const health = createHealth({ clock, env, plan, command, container, events, settings });
    const { observer } = telemetry;
    components = [...components, health.component, telemetry.tracing, telemetry.metrics(health.health, health.runtime)];
    if (health.descriptor) serving = [health.descriptor];
    if (command.server === 'http') {
      const { httpServer } = require('./http/server.js') as typeof import('./http/server.js');
      const inMemory = container.isBound(IN_MEMORY);
      const openApiDocument = () =>
        (require('./http/openapi.js') as typeof import('./http/openapi.js')).openApiDocument(
          plan,
          command,
          (require('./cli/version.js') as typeof import('./cli/version.js')).appVersion(plan.version),
        );
      const http = httpServer({ ...health, settings, command, observer, events, container, inMemory, openApiDocument });
      components.push(http.component);
      runner = () => http.runner;
    } else if (command.server === 'grpc') {
      runner = () =>
        (require('./grpc/server.js') as typeof import('./grpc/server.js')).grpcRunner({
          ...health,
          settings,
          observer,
        });
    } else if (command.server === 'ctl') {
      const runtime = health.runtime as NonNullable<typeof health.runtime>;
      runner = () =>
        (require('./ctl/runner.js') as typeof import('./ctl/runner.js')).ctlRunner({ ...health, runtime, settings });
    }
  }
  if (loaded.config) components.push(telemetry.spans);
  return { settings, components, serving, runner };
}

type Loaded = { config: LoadedConfig; error?: undefined } | { config?: undefined; error: Error };

function load(env: NodeJS.ProcessEnv, given: unknown, stopHooks: readonly StopHook[]): Loaded {
  try {
    return { config: loadConfiguration(env, given, stopHooks) };
  } catch (error) {
    return { error: error as Error };
  }
}

/** What the logger starts with when configuration failed, so it can report why: LOG_LEVEL when valid. */
function fallbackSettings(env: NodeJS.ProcessEnv, overrides: unknown): FrameworkSettings {
  const settings = mergeDeep(frameworkDefaults(env), overrides);
  const level = env.LOG_LEVEL as LogLevel | undefined;
  return level && LOG_LEVELS.includes(level) ? mergeDeep(settings, { log: { level } }) : settings;
}

/**
 * The loaded configuration published to the container (`AppConfig`, the
 * `@Config(key)` values); a configuration that failed to load fails here, so
 * the logger reports it as the step `framework.config`.
 */
function configComponent(container: Container, loaded: Loaded): Component {
  return {
    name: 'config',
    start() {
      if (!loaded.config) throw loaded.error;
      // A key nobody set fails when a class asks for it, naming the key.
      bindConfiguration(container, new AppConfig(loaded.config.values, loaded.config.sourceOf));
    },
  };
}
