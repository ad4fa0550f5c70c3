import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Container } from 'inversify';
import Koa from 'koa';
import { mergeDeep } from '../config/validate.js';
import { bindConstant } from '../container/container.js';
import { RuntimeInfo } from '../health/runtime.js';
import { IN_MEMORY } from '../http/server.js';
import type { LifecycleEvent } from '../lifecycle/events.js';
import type { StopSignal } from '../lifecycle/signals.js';
import type { Class } from '../plan/types.js';
import { FakeSignals } from './fake-signals.js';
import { createTestContainer, preload, type RunResult, runCommand, type TestOptions } from './index.js';
import { madeWith } from './made-with.js';
import { applyOverrides } from './overrides.js';

export interface TestServerOptions extends TestOptions {
  /** The command line; defaults to the server kind, e.g. `['http']`. */
  argv?: readonly string[];
  /** Defaults to a fresh `createTestContainer(main, options)`. */
  container?: Container;
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
  stop(signal?: StopSignal): Promise<RunResult>;
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
  const started = await run(main, kind, options, false);
  const { runtime, container } = started;
  const port = (runtime?.get(kind) as { port?: number } | undefined)?.port;
  if (port === undefined) throw await started.failed(kind);
  const address = kind === 'http' ? `http://127.0.0.1:${port}` : `127.0.0.1:${port}`;
  return {
    address,
    port,
    adminPort: (runtime?.get('admin') as { port?: number } | undefined)?.port,
    container,
    events: started.events,
    request: (path, init) => fetch(`${address}${path}`, init),
    stop: started.stop,
  };
}

/** The http command running in-process without a socket: see `startInMemory`. */
export interface InMemoryServer {
  readonly container: Container;
  /** Every lifecycle event so far. */
  readonly events: readonly LifecycleEvent[];
  /**
   * Dispatches a request through the whole framework pipeline (request id,
   * error mapping, body parsing, validation, the command's middleware,
   * routes, access log, metrics) with no socket, as `fetch` would send it.
   */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Sends a stop signal and resolves with the run's result. */
  stop(signal?: StopSignal): Promise<RunResult>;
}

/**
 * Runs the app's http command in-process, its hooks and all, but serves no
 * socket: `request()` dispatches into the koa app in memory (like hono's
 * `app.request()`). For unit tests of routes; `startServer` for real sockets.
 * @example
 * const server = await startInMemory(App);
 * const res = await server.request('/todos', { method: 'POST', body: JSON.stringify({ title: 'x' }),
 *   headers: { 'content-type': 'application/json' } });
 * await server.stop();
 */
export async function startInMemory(main: Class, options: TestServerOptions = {}): Promise<InMemoryServer> {
  const started = await run(main, 'http', options, true);
  const { container } = started;
  if (!container.isBound(Koa)) throw await started.failed('http');
  const dispatch = (container.get(Koa) as Koa).callback();
  return {
    container,
    events: started.events,
    request: (path, init) => injected(dispatch, path, init),
    stop: started.stop,
  };
}

interface Started {
  readonly container: Container;
  readonly events: LifecycleEvent[];
  readonly runtime: RuntimeInfo | undefined;
  stop(signal?: StopSignal): Promise<RunResult>;
  /** Waits for the run that ended before serving and says why. */
  failed(kind: string): Promise<Error>;
}

async function run(main: Class, kind: 'http' | 'grpc', options: TestServerOptions, memory: boolean): Promise<Started> {
  const { argv, container: given, spanExporter, overrides = [], ...test } = options;
  await preload(main);
  const container = given ?? createTestContainer(main, { ...test, overrides });
  if (given) applyOverrides(given, overrides);
  // A container from createTestContainer keeps its config, unless this server is given its own.
  const made = (given && madeWith.get(given)) || {};
  const settings = test.settings ?? made.settings;
  if (memory) bindConstant(container, IN_MEMORY, true);
  const signals = new FakeSignals();
  const runtimeDir = mkdtempSync(join(tmpdir(), 'dionysus-test-'));
  // Ephemeral loopback ports and a runtime directory of its own, unless the test says otherwise.
  const local = { [kind]: { port: 0, host: '127.0.0.1' }, admin: { port: 0, host: '127.0.0.1' }, runtimeDir };
  const events: LifecycleEvent[] = [];
  let ready!: () => void;
  const running = new Promise<void>((resolve) => {
    ready = resolve;
  });
  let exited = false;
  const result = runCommand(main, argv ?? [kind], {
    ...test,
    container,
    signals,
    config: mergeDeep({ dionysus: local }, test.config ?? made.config),
    ...(settings ? { settings } : {}),
    ...(spanExporter ? { spanExporter } : {}),
    onEvent: (event) => {
      events.push(event);
      if (event.type === 'exit') exited = true;
      if ((event.type === 'state' && event.state === 'running') || event.type === 'exit') ready();
    },
  });
  await running;
  const cleanup = (): void => rmSync(runtimeDir, { recursive: true, force: true });
  return {
    container,
    events,
    runtime: !exited && container.isBound(RuntimeInfo) ? container.get(RuntimeInfo) : undefined,
    async stop(signal = 'SIGTERM') {
      signals.send(signal);
      const done = await result;
      cleanup();
      return done;
    },
    async failed(what) {
      const done = await result;
      cleanup();
      return new Error(`the ${what} command did not start (exit ${done.exitCode}):\n${done.stderr}`);
    },
  };
}

/** One request through light-my-request (no socket), answered as a WHATWG Response. */
async function injected(
  dispatch: (req: IncomingMessage, res: ServerResponse) => unknown,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const { inject } = require('light-my-request') as typeof import('light-my-request');
  const request = new Request(new URL(path, 'http://in-memory.test'), init);
  const payload = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  const headers = Object.fromEntries(request.headers);
  const answer = await inject(dispatch as never, {
    method: request.method as 'GET',
    url: path,
    headers,
    ...(payload ? { payload } : {}),
  });
  const out = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) out.append(name, String(one));
  }
  const empty = answer.statusCode === 204 || answer.statusCode === 304 || request.method === 'HEAD';
  return new Response(empty ? null : answer.rawPayload, { status: answer.statusCode, headers: out });
}
