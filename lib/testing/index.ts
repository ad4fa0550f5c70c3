import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Container } from 'inversify';
import { type DeepPartial, execute } from '../app.js';
import { Output } from '../cli/output.js';
import { AppConfig, bindConfiguration } from '../config/app-config.js';
import type { FrameworkSettings } from '../config/defaults.js';
import { loadConfiguration } from '../config/load.js';
import { mergeDeep } from '../config/validate.js';
import { bindConstant, createAppContainer } from '../container/container.js';
import { DionysusError, PlanError } from '../errors.js';
import { Clock, systemClock } from '../lifecycle/clock.js';
import type { LifecycleEvent } from '../lifecycle/events.js';
import type { SignalSource } from '../lifecycle/signals.js';
import { loadLazyLists, loadLazyListsNow } from '../plan/lazy.js';
import { buildPlan } from '../plan/plan.js';
import type { AppPlan, Class } from '../plan/types.js';
import { createLogger } from '../telemetry/logger.js';
import { Logger, REGISTRY } from '../telemetry/tokens.js';
import { Capture } from './capture.js';
import { FakeSignals } from './fake-signals.js';
import { madeWith } from './made-with.js';
import { applyOverrides, type Override } from './overrides.js';

export { FakeClock } from './fake-clock.js';
export {
  type Override,
  type OverrideBuilder,
  override,
} from './overrides.js';
export { Capture, FakeSignals };

/** The configuration of one test: the app's own keys and `dionysus`, over the config files. */
export type TestConfig = Readonly<Record<string, unknown>> & { readonly dionysus?: DeepPartial<FrameworkSettings> };

/** What every test helper takes: replaced bindings, and this test's own configuration. */
export interface TestOptions {
  /**
   * Bindings to replace, after the app's own: `[override(Db).useValue(fakeDb)]`.
   * One for a token the app never binds is an error naming it.
   */
  overrides?: readonly Override[];
  /**
   * This test's configuration, deep-merged over config/*.json and the
   * environment, for `AppConfig`, `@InjectConfig` and the framework alike:
   * `{ greeting: { text: 'hi' }, dionysus: { log: { level: 'warn' } } }`.
   * Another test in the same process does not see it.
   */
  config?: TestConfig;
  /** `config.dionysus`, merged over `config`. */
  settings?: DeepPartial<FrameworkSettings>;
  /** The `Clock` the app's classes and the lifecycle get; defaults to the system clock. */
  clock?: Clock;
  /** Read instead of process.env for LOG_LEVEL, the port variables and OTEL_*; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The app's container as a command run would build it, with the test's
 * overrides and configuration: `get(X)` builds X with its dependencies,
 * `AppConfig`, `@InjectConfig` values, `Clock`, `Output` (process.stdout)
 * and a `Logger` (on stderr) included.
 * @example
 * const container = createTestContainer(App, {
 *   overrides: [override(Database).useValue(fakeDb)],
 *   config: { greeting: { text: 'hi' } },
 * });
 * const greet = container.get(GreetCommand);
 */
export function createTestContainer(main: Class, options: TestOptions = {}): Container {
  const plan = planLoaded(main);
  const container = createAppContainer(plan);
  const loaded = loadConfiguration(options.env ?? process.env, givenConfig(options));
  bindConfiguration(container, new AppConfig(loaded.values, loaded.sourceOf));
  // A run binds its own; outside one, lines go to stderr unbuffered, at the configured level.
  const stderr = { write: (line: string) => process.stderr.write(line) } as unknown as NodeJS.WritableStream;
  const { logger } = createLogger({
    app: plan.name,
    command: 'test',
    level: loaded.settings.log.level,
    stream: stderr,
  });
  bindConstant(container, Logger, logger as unknown as Logger);
  // Made (loading prom-client) only when something asks for it: an integration's provider.
  if (!container.isBound(REGISTRY)) {
    container
      .bind(REGISTRY)
      .toDynamicValue(() => new (require('prom-client') as typeof import('prom-client')).Registry())
      .inSingletonScope();
  }
  bindConstant(container, Clock, options.clock ?? systemClock);
  bindConstant(container, Output, process.stdout as Output);
  applyOverrides(container, options.overrides ?? []);
  madeWith.set(container, options);
  return container;
}

/**
 * Calls every command's lazy `controllers` and `services` functions
 * (`@Command('http', { controllers: () => import('./controllers/index.js') })`)
 * and waits for them, so that `createTestContainer`, which is synchronous,
 * can bind their classes. Needed only when one returns a promise and the
 * test calls createTestContainer; runCommand, startServer and startInMemory
 * wait for them themselves. A broken app is left for the run to report.
 * @example
 * before(() => preload(App));
 */
export async function preload(main: Class): Promise<void> {
  let plan: AppPlan;
  try {
    plan = buildPlan(main);
  } catch (error) {
    if (error instanceof PlanError) return;
    throw error;
  }
  await loadLazyLists(plan.commands.values());
}

/** The app's plan with every command's lazy lists loaded: a test container binds every command's classes. */
function planLoaded(main: Class): AppPlan {
  const plan = buildPlan(main);
  const lazy = [...plan.commands.values()].filter((c) => c.lazy.length > 0);
  if (lazy.length === 0) return plan;
  const waiting = loadLazyListsNow(lazy);
  if (waiting.length > 0) {
    throw new DionysusError(
      'plan',
      `createTestContainer(${main.name}): ${waiting.join(' and ')} load through a promise, and createTestContainer is synchronous; \`await preload(${main.name})\` (dionysus/testing) before it, e.g. in a before() hook.`,
    );
  }
  return buildPlan(main);
}

export interface RunOptions extends TestOptions {
  /** Defaults to a fresh `createTestContainer(main, options)`. */
  container?: Container;
  /** Defaults to a FakeSignals nobody fires: the run ends by itself. */
  signals?: SignalSource;
  /** Sees each event as it happens (e.g. to send a signal once running). */
  onEvent?: (event: LifecycleEvent) => void;
  /** Turns tracing on, exporting to this exporter (e.g. `InMemorySpanExporter`). */
  spanExporter?: SpanExporter;
}

export interface RunResult {
  exitCode: number;
  /** Every lifecycle event, in order. */
  events: LifecycleEvent[];
  /**
   * What the command wrote to its `Output` (stdout): what a task printed, or
   * a server's JSON log lines.
   */
  stdout: string;
  /** Usage and error reports, and a task's JSON log lines (a task keeps stdout for its own output). */
  stderr: string;
}

/**
 * Runs `app <argv>` in-process: no real signals, no `process.exit`; what the
 * command writes to its `Output` comes back as `stdout`.
 * @example
 * const { exitCode, stdout } = await runCommand(App, ['greet', '--name', 'x'], {
 *   overrides: [override(Greeter).useValue(fakeGreeter)],
 * });
 */
export async function runCommand(main: Class, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  await preload(main);
  const stdout = new Capture();
  const stderr = new Capture();
  const events: LifecycleEvent[] = [];
  const container = containerOf(main, options);
  // A container from createTestContainer keeps what it was made with, unless this run says otherwise.
  const made: TestOptions = (container && madeWith.get(container)) ?? {};
  const config = options.config || options.settings ? givenConfig(options) : givenConfig(made);
  const clock = options.clock ?? made.clock;
  const env = options.env ?? made.env;
  const exitCode = await execute(main, {
    argv,
    io: { stdout, stderr, colors: false },
    ...(container ? { container } : {}),
    signals: options.signals ?? new FakeSignals(),
    ...(clock ? { clock } : {}),
    ...(config ? { config } : {}),
    ...(env ? { env } : {}),
    ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return { exitCode, events, stdout: stdout.text, stderr: stderr.text };
}

/** `config` with `settings` as its `dionysus` key, or undefined when the test gives neither. */
function givenConfig(options: TestOptions): TestConfig | undefined {
  if (!options.config && !options.settings) return undefined;
  return mergeDeep(options.config ?? {}, options.settings ? { dionysus: options.settings } : undefined);
}

/**
 * The given container (with this run's overrides), else a test container;
 * none for a broken app or bad configuration, so `execute` reports it as
 * the binary would (exit 1).
 */
function containerOf(main: Class, options: RunOptions): Container | undefined {
  if (options.container) {
    applyOverrides(options.container, options.overrides ?? []);
    return options.container;
  }
  try {
    return createTestContainer(main, options);
  } catch (error) {
    if (error instanceof PlanError || (error instanceof DionysusError && error.kind === 'config')) return undefined;
    throw error;
  }
}

export {
  type InMemoryServer,
  startInMemory,
  startServer,
  type TestServer,
  type TestServerOptions,
} from './server.js';
