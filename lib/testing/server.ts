import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Container } from 'inversify';
import type { DeepPartial } from '../app.js';
import type { FrameworkSettings } from '../config/defaults.js';
import { mergeDeep } from '../config/validate.js';
import { RuntimeInfo } from '../health/runtime.js';
import type { LifecycleEvent } from '../lifecycle/events.js';
import type { Class } from '../plan/types.js';
import { FakeSignals } from './fake-signals.js';
import { createTestContainer, type RunResult, runCommand } from './index.js';

export interface TestServerOptions {
  /** The command line; defaults to the server kind, e.g. `['http']`. */
  argv?: readonly string[];
  container?: Container;
  settings?: DeepPartial<FrameworkSettings>;
  env?: NodeJS.ProcessEnv;
  /** Turns tracing on, exporting to this exporter (e.g. `InMemorySpanExporter`). */
  spanExporter?: SpanExporter;
}

/** A server command running in-process on ephemeral ports. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` (http) or `127.0.0.1:<port>` (grpc). */
  readonly address: string;
  readonly port: number;
  readonly adminPort: number | undefined;
  readonly container: Container;
  /** Every lifecycle event so far. */
  readonly events: readonly LifecycleEvent[];
  /** `fetch` against the server: `await server.request('/hello?name=x')`. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Sends a stop signal and resolves with the run's result. */
  stop(signal?: 'SIGTERM' | 'SIGINT' | 'SIGQUIT'): Promise<RunResult>;
}

/**
 * Starts a server command of the app in-process with real sockets on
 * ephemeral ports (the app's own config still applies under the test
 * settings), for requests from the test.
 * @example
 * const server = await startServer(App, 'http');
 * const res = await server.request('/hello?name=x');
 * await server.stop();
 */
export async function startServer(
  main: Class,
  kind: 'http' | 'grpc',
  options: TestServerOptions = {},
): Promise<TestServer> {
  const container = options.container ?? createTestContainer(main);
  const signals = new FakeSignals();
  const runtimeDir = mkdtempSync(join(tmpdir(), 'dionysus-test-'));
  const settings = mergeDeep(
    { [kind]: { port: 0, host: '127.0.0.1' }, admin: { port: 0, host: '127.0.0.1' }, runtimeDir },
    options.settings,
  );
  const events: LifecycleEvent[] = [];
  let ready!: () => void;
  const running = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const run = runCommand(main, options.argv ?? [kind], {
    container,
    signals,
    settings: settings as DeepPartial<FrameworkSettings>,
    ...(options.env ? { env: options.env } : {}),
    ...(options.spanExporter ? { spanExporter: options.spanExporter } : {}),
    onEvent: (event) => {
      events.push(event);
      if ((event.type === 'state' && event.state === 'running') || event.type === 'exit') ready();
    },
  });
  await running;
  const runtime = container.isBound(RuntimeInfo) ? container.get(RuntimeInfo) : undefined;
  const port = (runtime?.get(kind) as { port?: number } | undefined)?.port;
  if (port === undefined) {
    const result = await run;
    rmSync(runtimeDir, { recursive: true, force: true });
    throw new Error(`the ${kind} command did not start (exit ${result.exitCode}):\n${result.stderr}`);
  }
  const address = kind === 'http' ? `http://127.0.0.1:${port}` : `127.0.0.1:${port}`;
  return {
    address,
    port,
    adminPort: (runtime?.get('admin') as { port?: number } | undefined)?.port,
    container,
    events,
    request: (path, init) => fetch(`${address}${path}`, init),
    async stop(signal = 'SIGTERM') {
      signals.send(signal);
      const result = await run;
      rmSync(runtimeDir, { recursive: true, force: true });
      return result;
    },
  };
}
