import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Container } from 'inversify';
import { type DeepPartial, execute } from '../app.js';
import type { FrameworkSettings } from '../config/defaults.js';
import { createAppContainer } from '../container/container.js';
import { PlanError } from '../errors.js';
import type { Clock } from '../lifecycle/clock.js';
import type { LifecycleEvent } from '../lifecycle/events.js';
import type { SignalSource } from '../lifecycle/signals.js';
import { buildPlan, type UnboundToken } from '../plan/plan.js';
import type { Class } from '../plan/types.js';
import { Capture } from './capture.js';
import { FakeSignals } from './fake-signals.js';

export { FakeClock } from './fake-clock.js';
export { Capture, FakeSignals };

export interface TestContainerOptions {
  /** Replace bindings: called with the container after the app's classes are bound. */
  override?: (container: Container) => void;
}

/**
 * The app's container as a command run would build it, with overrides.
 * @example
 * const container = createTestContainer(App, {
 *   override: (c) => c.rebind(Database).toConstantValue(fakeDb),
 * });
 * const greet = container.get(GreetCommand);
 */
export function createTestContainer(main: Class, options: TestContainerOptions = {}): Container {
  let unbound: readonly UnboundToken[] = [];
  const plan = buildPlan(main, { onUnbound: (found) => void (unbound = found) });
  const container = createAppContainer(plan);
  options.override?.(container);
  // A token the override binds is no plan error.
  const left = unbound.filter((u) => u.provided || !container.isBound(u.token as never));
  if (left.length > 0) throw new PlanError(left.map((u) => u.problem));
  return container;
}

export interface RunOptions {
  /** Defaults to a fresh `createTestContainer(main)`. */
  container?: Container;
  /** Defaults to a FakeSignals nobody fires: the run ends by itself. */
  signals?: SignalSource;
  /** Defaults to the system clock. */
  clock?: Clock;
  settings?: DeepPartial<FrameworkSettings>;
  /** Sees each event as it happens (e.g. to send a signal once running). */
  onEvent?: (event: LifecycleEvent) => void;
  /** Read instead of process.env for LOG_LEVEL, the port variables and OTEL_*; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Turns tracing on, exporting to this exporter (e.g. `InMemorySpanExporter`). */
  spanExporter?: SpanExporter;
}

export interface RunResult {
  exitCode: number;
  /** Every lifecycle event, in order. */
  events: LifecycleEvent[];
  /** What the command wrote to stdout: a server's JSON log lines, or what a task printed itself. */
  stdout: string;
  /** Usage and error reports, and a task's JSON log lines (a task keeps stdout for its own output). */
  stderr: string;
}

/**
 * Runs `app <argv>` in-process: no real signals, no `process.exit`.
 * @example
 * const { exitCode, events } = await runCommand(App, ['greet', '--name', 'x']);
 */
export async function runCommand(main: Class, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const events: LifecycleEvent[] = [];
  const exitCode = await execute(main, {
    argv,
    io: { stdout, stderr, colors: false },
    ...containerOf(main, options),
    signals: options.signals ?? new FakeSignals(),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.settings ? { settings: options.settings } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return { exitCode, events, stdout: stdout.text, stderr: stderr.text };
}

/** The given container, else the app's; none for a broken app, so `execute` reports its PlanError as the binary would (exit 1). */
function containerOf(main: Class, options: RunOptions): { container?: Container } {
  if (options.container) return { container: options.container };
  try {
    return { container: createTestContainer(main) };
  } catch (error) {
    if (error instanceof PlanError) return {};
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
