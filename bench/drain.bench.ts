/**
 * The zero-drop drain figure (issues 5 and 7): the sample's http and grpc
 * commands with a drain delay of 1 s take keep-alive load from loops that
 * follow readiness, as a Kubernetes Service does (a poller asks readiness
 * every 50 ms; once it fails, no loop starts a new request); SIGTERM
 * arrives mid-load. Printed per transport: requests sent, failed (must be
 * 0), when readiness failed and when the process exited, counted from the
 * SIGTERM.
 *
 *   node dist/bench/run.js drain
 *   BENCH_DRAIN_RUNS=10 BENCH_LOOPS=50 BENCH_DRAIN_DELAY_MS=2000 node dist/bench/run.js drain
 */
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../proto/gen/grpc/health/v1/health.js';
import { GreeterClient } from '../proto/gen/helloworld/helloworld.js';
import {
  type Bench,
  formatTable,
  httpStatus,
  median,
  numberFromEnv,
  REPO_ROOT,
  type ServerProcess,
  sleep,
  startServer,
  waitUntil,
} from './harness.js';

const SAMPLE = join(REPO_ROOT, 'dist/samples/app/main.js');
const POLL_MS = 50;

interface Settings {
  readonly runs: number;
  readonly loops: number;
  readonly drainDelayMs: number;
  /** Load before the SIGTERM. */
  readonly loadMs: number;
}

interface DrainRun {
  readonly sent: number;
  readonly failed: number;
  readonly firstFailure?: string;
  /** From the SIGTERM to the first failed readiness poll. */
  readonly readinessFailedMs: number;
  /** From the SIGTERM to the last request the loops started. */
  readonly lastStartedMs: number;
  readonly exitMs: number;
  readonly exitCode: number | null;
}

/** How one transport is loaded: a request, a readiness poll, and cleanup. */
interface Client {
  request(): Promise<void>;
  ready(): Promise<boolean>;
  close(): void;
}

function httpClient(port: number, loops: number): Client {
  const agent = new Agent({ keepAlive: true, maxSockets: loops });
  return {
    request: () =>
      new Promise((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/hello?name=x', agent }, (response) => {
          response.resume();
          response.on('error', reject);
          response.on('end', () =>
            response.statusCode === 200 ? resolve() : reject(new Error(`status ${response.statusCode}`)),
          );
        }).on('error', reject);
      }),
    // Like the kubelet: a fresh connection per poll.
    ready: async () => (await httpStatus(port, '/healthx/readiness', POLL_MS * 4)) === 200,
    close: () => agent.destroy(),
  };
}

function grpcClient(port: number): Client {
  const target = `127.0.0.1:${port}`;
  const greeter = new GreeterClient(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const health = new HealthClient(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  return {
    request: () =>
      new Promise((resolve, reject) => greeter.sayHello({ name: 'x' }, (error) => (error ? reject(error) : resolve()))),
    ready: () =>
      new Promise((resolve) =>
        health.check({ service: '' }, new Metadata(), { deadline: Date.now() + POLL_MS * 4 }, (error, reply) =>
          resolve(!error && reply?.status === HealthCheckResponse_ServingStatus.SERVING),
        ),
      ),
    close: () => {
      greeter.close();
      health.close();
    },
  };
}

async function drainOnce(kind: 'http' | 'grpc', settings: Settings): Promise<DrainRun> {
  const server: ServerProcess = startServer({
    name: `drain-${kind}`,
    command: [process.execPath, SAMPLE, kind],
    env: { NODE_CONFIG: JSON.stringify({ dionysus: { shutdown: { drainDelayMs: settings.drainDelayMs } } }) },
  });
  let client: Client | undefined;
  try {
    const port = (await server.descriptor(kind))[kind]!.port!;
    client = kind === 'http' ? httpClient(port, settings.loops) : grpcClient(port);
    const c = client;
    await waitUntil(`${kind} readiness`, () => c.ready(), 15_000, POLL_MS);

    let ready = true;
    let sigtermAt = Number.POSITIVE_INFINITY;
    let readinessFailedAt = Number.NaN;
    let lastStartedAt = Number.NaN;
    let sent = 0;
    let failed = 0;
    let firstFailure: string | undefined;
    const poller = (async () => {
      while (ready) {
        const polled = performance.now();
        if (!(await c.ready())) {
          ready = false;
          readinessFailedAt = performance.now();
        } else await sleep(Math.max(0, POLL_MS - (performance.now() - polled)));
      }
    })();
    const loop = async (): Promise<void> => {
      while (ready) {
        sent++;
        lastStartedAt = performance.now();
        try {
          await c.request();
        } catch (error) {
          failed++;
          firstFailure ??= error instanceof Error ? error.message : String(error);
        }
      }
    };
    const loops = Array.from({ length: settings.loops }, loop);
    await sleep(settings.loadMs);
    sigtermAt = performance.now();
    server.child.kill('SIGTERM');
    await Promise.all([poller, ...loops]);
    const exit = await server.exited;
    const exitedAt = performance.now();
    return {
      sent,
      failed,
      firstFailure,
      readinessFailedMs: readinessFailedAt - sigtermAt,
      lastStartedMs: lastStartedAt - sigtermAt,
      exitMs: exitedAt - sigtermAt,
      exitCode: exit.code,
    };
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${server.logTail()}`);
  } finally {
    client?.close();
    await server.stop('SIGKILL');
  }
}

const bench: Bench = {
  description: 'zero-drop drain: SIGTERM mid-load on the sample http and grpc commands, load following readiness',
  async run() {
    const settings: Settings = {
      runs: numberFromEnv('BENCH_DRAIN_RUNS', 3),
      loops: numberFromEnv('BENCH_LOOPS', 20),
      drainDelayMs: numberFromEnv('BENCH_DRAIN_DELAY_MS', 1000),
      loadMs: numberFromEnv('BENCH_LOAD_MS', 1500),
    };
    const results: Record<'http' | 'grpc', DrainRun[]> = { http: [], grpc: [] };
    for (let run = 0; run < settings.runs; run++) {
      for (const kind of ['http', 'grpc'] as const) results[kind].push(await drainOnce(kind, settings));
    }
    const rows = (['http', 'grpc'] as const).map((kind) => {
      const runs = results[kind];
      const sum = (pick: (r: DrainRun) => number): number => runs.reduce((total, r) => total + pick(r), 0);
      const med = (pick: (r: DrainRun) => number): string => median(runs.map(pick)).toFixed(0);
      return [
        kind,
        String(sum((r) => r.sent)),
        String(sum((r) => r.failed)),
        med((r) => r.readinessFailedMs),
        med((r) => r.lastStartedMs),
        med((r) => r.exitMs),
        [...new Set(runs.map((r) => String(r.exitCode)))].join(','),
      ];
    });
    const failures = (['http', 'grpc'] as const).flatMap((kind) =>
      results[kind].filter((r) => r.firstFailure).map((r) => `${kind}: first failure: ${r.firstFailure}`),
    );
    const total = rows.reduce((sum, row) => sum + Number(row[2]), 0);
    return {
      reports: [],
      notes: [
        `drain: drainDelayMs ${settings.drainDelayMs}, ${settings.loops} keep-alive loops, SIGTERM after ${settings.loadMs} ms of load, ${settings.runs} runs per transport (sums of requests; medians of times, ms from the SIGTERM)`,
        '',
        ...formatTable(
          ['', 'sent', 'failed', 'readiness failed ms', 'last request started ms', 'exit ms', 'exit code'],
          rows,
        ).map((line) => `  ${line}`),
        '',
        `target: 0 failed requests and calls: measured ${total} ${total === 0 ? 'PASS' : 'MISS'}`,
        ...failures.slice(0, 4),
        `load follows readiness: polled every ${POLL_MS} ms (http: GET /healthx/readiness on a fresh connection; grpc: Health/Check "" on its own channel), no new request once it fails`,
        'http: keep-alive agent, GET /hello; grpc: one channel, unary SayHello',
      ],
    };
  },
};

export default bench;
