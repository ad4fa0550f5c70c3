import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../proto/gen/grpc/health/v1/health.js';
import { Child } from '../integration/child.js';

/**
 * A kubelet in miniature: runs a process the way Kubernetes runs a
 * container, so specs can watch a real app go through startup, probes and
 * termination. Probe semantics follow the kubelet's:
 * https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
 *
 * - the startup probe runs on its period until it passes; `failureThreshold`
 *   failures in a row kill the pod and report why;
 * - then liveness and readiness run on their periods, never overlapping
 *   themselves; Ready turns on after `successThreshold` passes in a row and off
 *   after `failureThreshold` failures in a row; liveness failing
 *   `failureThreshold` times kills the pod (restartPolicy Never: it is reported,
 *   not restarted);
 * - termination marks the pod terminating at once (a Service drops it from its
 *   endpoints then, whatever readiness says), sends SIGTERM, and SIGKILL after
 *   the grace period. Readiness keeps being probed and recorded until the exit.
 */

/** How to run the app binary: `node dist/samples/app/main.js`, or a single executable. */
export interface Binary {
  readonly file: string;
  readonly args: readonly string[];
}

/** A compiled script run by this process's node. */
export const nodeScript = (script: string): Binary => ({ file: process.execPath, args: [script] });
/** A single executable (e.g. the SEA build of the app). */
export const executable = (path: string): Binary => ({ file: path, args: [] });
/** The binary's argv with extra arguments, e.g. `argv(app, 'readiness')` for an exec probe. */
export const argv = (binary: Binary, ...args: string[]): string[] => [binary.file, ...binary.args, ...args];

export type ProbeKind = 'startup' | 'liveness' | 'readiness';
/** A named port the app reports in its runtime descriptor (`HTTP_PORT=0` and friends pick them). */
export type PortName = 'http' | 'grpc' | 'admin';

export type ProbeHandler =
  /** Runs the command with the pod's environment; exit 0 passes. */
  | { readonly exec: readonly string[] }
  /** A GET on loopback without keep-alive, like the kubelet's; 200–399 passes. */
  | { readonly httpGet: { readonly port: PortName; readonly path: string } }
  /** grpc.health.v1.Health/Check; SERVING passes. */
  | { readonly grpc: { readonly port: PortName; readonly service?: string } };

export interface ProbeSpec {
  readonly handler: ProbeHandler;
  readonly periodMs: number;
  /** @default 1000 (timeoutSeconds: 1) */
  readonly timeoutMs?: number;
  /** @default 3 */
  readonly failureThreshold?: number;
  /** Readiness only; startup and liveness must be 1. @default 1 */
  readonly successThreshold?: number;
  /** @default 0 */
  readonly initialDelayMs?: number;
}

export interface PodSpec {
  readonly name: string;
  readonly binary: Binary;
  /** The container's args after the binary, e.g. `['http']`. */
  readonly args: readonly string[];
  /** The container's declared environment; the harness adds the runtime dir, ports and cluster variables. */
  readonly env?: Readonly<Record<string, string>>;
  readonly startupProbe?: ProbeSpec;
  readonly livenessProbe?: ProbeSpec;
  readonly readinessProbe?: ProbeSpec;
  /** terminationGracePeriodSeconds, in ms for tests. */
  readonly terminationGracePeriodMs: number;
}

export interface ProbeResult {
  readonly probe: ProbeKind;
  readonly ok: boolean;
  /** What the probe said: the exec probe's output line, a status, an error. */
  readonly detail: string;
  /** Milliseconds since the pod started. */
  readonly atMs: number;
  readonly durationMs: number;
  /** Whether termination had begun when the probe started. */
  readonly terminating: boolean;
}

export interface PodExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Milliseconds since the pod started. */
  readonly atMs: number;
  /** Milliseconds from SIGTERM to the exit; undefined when the pod exited by itself. */
  readonly afterTerminationMs: number | undefined;
  /** The harness sent SIGKILL because the grace period ran out. */
  readonly killed: boolean;
}

const running = new Set<Pod>();

/** Starts a pod: the process, then its probes. */
export function startPod(spec: PodSpec): Pod {
  return new Pod(spec);
}

/** Kills every pod still running (SIGKILL, no grace) and every probe in flight; for `afterEach`. */
export async function killPods(): Promise<void> {
  await Promise.all([...running].map((pod) => pod.kill()));
}

/** One pod with one container. */
export class Pod {
  readonly spec: PodSpec;
  readonly runtimeDir: string;
  readonly results: ProbeResult[] = [];
  /** Why the kubelet killed the pod (a startup or liveness probe gave up); undefined otherwise. */
  failure: string | undefined;
  readonly #env: Record<string, string>;
  readonly #child: Child;
  readonly #t0 = performance.now();
  readonly #ports = new Map<PortName, number>();
  readonly #probes = new Set<Child>();
  readonly #listeners = new Set<() => void>();
  #started = false;
  #ready = false;
  #terminatedAt: number | undefined;
  #termination: Promise<PodExit> | undefined;
  #killed = false;
  #exit: PodExit | undefined;
  readonly exited: Promise<PodExit>;

  constructor(spec: PodSpec) {
    this.spec = spec;
    this.runtimeDir = mkdtempSync(join(tmpdir(), `kube-${spec.name}-`));
    this.#env = {
      // A container sees what its manifest declares plus what the cluster injects, not the kubelet's
      // own environment. KUBERNETES_SERVICE_HOST makes the app apply its in-cluster defaults.
      ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
      HOSTNAME: spec.name,
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      DIONYSUS_RUNTIME_DIR: this.runtimeDir,
      HTTP_PORT: '0',
      GRPC_PORT: '0',
      ADMIN_PORT: '0',
      ...spec.env,
    };
    // Each container has a filesystem of its own: its working directory (the app's data/) is the pod's.
    this.#child = new Child(spec.binary.file, [...spec.binary.args, ...spec.args], {
      cwd: this.runtimeDir,
      env: isolated(this.#env),
    });
    running.add(this);
    this.exited = this.#child.waitForExit(24 * 3_600_000).then(
      (exit) => this.#exited(exit.code, exit.signal),
      (error: unknown) => this.#exited(null, null, error),
    );
    void this.#probeLoop();
  }

  get name(): string {
    return this.spec.name;
  }

  /** The startup probe passed (or there is none). */
  get started(): boolean {
    return this.#started;
  }

  /** The pod's Ready condition, from readiness alone (termination is the Service's business). */
  get ready(): boolean {
    return this.#ready;
  }

  get terminating(): boolean {
    return this.#terminatedAt !== undefined;
  }

  get exit(): PodExit | undefined {
    return this.#exit;
  }

  get stdout(): string {
    return this.#child.stdout;
  }

  get stderr(): string {
    return this.#child.stderr;
  }

  /** Milliseconds since the pod started. */
  now(): number {
    return performance.now() - this.#t0;
  }

  /** The real port behind a name, from the runtime descriptor or the app's log line; undefined until it listens. */
  port(name: PortName): number | undefined {
    const known = this.#ports.get(name);
    if (known !== undefined) return known;
    const port = portFromDescriptor(this.runtimeDir, name) ?? portFromLogs(this.#child.stdout, name);
    if (port !== undefined) this.#ports.set(name, port);
    return port;
  }

  /** Called when Ready, terminating or the exit change, and after every probe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once Ready; rejects if the pod exits, is killed by its probes or does not get Ready in time. */
  waitUntilReady(timeoutMs = 10_000): Promise<void> {
    return this.#until(() => this.#ready, 'Ready', timeoutMs);
  }

  /** Resolves once the pod ran `count` probes of a kind; rejects like `waitUntilReady`. */
  waitForProbes(probe: ProbeKind, count: number, timeoutMs = 10_000): Promise<void> {
    return this.#until(
      () => this.results.filter((r) => r.probe === probe).length >= count,
      `${count} ${probe} probes`,
      timeoutMs,
    );
  }

  /** Resolves once stdout has a line equal to `line`. */
  waitForLine(line: string, timeoutMs = 10_000): Promise<void> {
    return this.#child.waitForLine(line, timeoutMs);
  }

  /**
   * Pod deletion: terminating at once, SIGTERM, SIGKILL after the grace
   * period. Resolves with the exit; calling it again returns the same exit.
   */
  terminate(): Promise<PodExit> {
    if (this.#termination) return this.#termination;
    if (this.#exit) return (this.#termination = Promise.resolve(this.#exit));
    this.#terminatedAt = this.now();
    this.#changed();
    this.#signal('SIGTERM');
    const timer = setTimeout(() => {
      this.#killed = true;
      this.#signal('SIGKILL');
    }, this.spec.terminationGracePeriodMs);
    this.#termination = this.exited.finally(() => clearTimeout(timer));
    return this.#termination;
  }

  /** Immediate SIGKILL of the pod and its probes in flight (cleanup, not a Kubernetes action). */
  async kill(): Promise<void> {
    for (const probe of this.#probes) await probe.kill();
    if (!this.#exit) this.#signal('SIGKILL');
    await this.exited;
  }

  /** Probe history and output, for a failing assertion's message. */
  describe(): string {
    const results = this.results
      .map(
        (r) => `  ${r.atMs.toFixed(0)}ms ${r.probe} ${r.ok ? 'ok' : 'FAIL'} (${r.durationMs.toFixed(0)}ms) ${r.detail}`,
      )
      .join('\n');
    const exit = this.#exit ? JSON.stringify(this.#exit) : 'running';
    const tail = this.stdout.trimEnd().split('\n').slice(-20).join('\n');
    return [
      `pod ${this.name}: ${exit}${this.failure ? `, killed: ${this.failure}` : ''}`,
      results,
      `--- stdout (last lines) ---\n${tail}`,
      `--- stderr ---\n${this.stderr}`,
    ].join('\n');
  }

  #signal(signal: NodeJS.Signals): void {
    if (!this.#exit) this.#child.process.kill(signal);
  }

  #exited(code: number | null, signal: NodeJS.Signals | null, error?: unknown): PodExit {
    if (error) this.failure ??= `could not run: ${error instanceof Error ? error.message : String(error)}`;
    const atMs = this.now();
    this.#exit = {
      code,
      signal,
      atMs,
      afterTerminationMs: this.#terminatedAt === undefined ? undefined : atMs - this.#terminatedAt,
      killed: this.#killed,
    };
    this.#ready = false;
    running.delete(this);
    rmSync(this.runtimeDir, { recursive: true, force: true });
    this.#changed();
    return this.#exit;
  }

  async #probeLoop(): Promise<void> {
    const { startupProbe, livenessProbe, readinessProbe } = this.spec;
    if (startupProbe) {
      const passed = await this.#runProbe('startup', startupProbe, () => false);
      if (!passed) return;
    }
    this.#started = true;
    this.#changed();
    if (!readinessProbe) this.#setReady(true);
    await Promise.all([
      livenessProbe && this.#runProbe('liveness', livenessProbe, () => this.terminating),
      readinessProbe && this.#runProbe('readiness', readinessProbe, () => false),
    ]);
  }

  /**
   * One probe worker: probes on its period until the pod exits (or `stop()`
   * holds); startup returns once it passes. Resolves false when it gave up
   * and killed the pod.
   */
  async #runProbe(probe: ProbeKind, spec: ProbeSpec, stop: () => boolean): Promise<boolean> {
    const failureThreshold = spec.failureThreshold ?? 3;
    const successThreshold = spec.successThreshold ?? 1;
    let failures = 0;
    let successes = 0;
    await this.#sleep(spec.initialDelayMs ?? 0);
    while (!this.#exit && !stop()) {
      const started = this.now();
      const terminating = this.terminating;
      const { ok, detail } = await this.#probe(spec.handler, spec.timeoutMs ?? 1_000);
      if (this.#exit) break;
      this.results.push({ probe, ok, detail, atMs: started, durationMs: this.now() - started, terminating });
      this.#changed();
      failures = ok ? 0 : failures + 1;
      successes = ok ? successes + 1 : 0;
      if (probe === 'startup' && ok) return true;
      if (probe === 'readiness') {
        if (successes >= successThreshold) this.#setReady(true);
        if (failures >= failureThreshold) this.#setReady(false);
      } else if (failures >= failureThreshold && !this.terminating) {
        this.failure = `${probe} probe failed ${failures} times in a row: ${detail}`;
        this.#changed();
        void this.terminate();
        return false;
      }
      await this.#sleep(spec.periodMs - (this.now() - started));
    }
    return false;
  }

  #probe(handler: ProbeHandler, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
    if ('exec' in handler) return this.#exec(handler.exec, timeoutMs);
    if ('httpGet' in handler) return httpGet(this.port(handler.httpGet.port), handler.httpGet.path, timeoutMs);
    return grpcCheck(this.port(handler.grpc.port), handler.grpc.service ?? '', timeoutMs);
  }

  async #exec(command: readonly string[], timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
    const [file, ...args] = command as [string, ...string[]];
    const child = new Child(file, args, { env: isolated(this.#env) });
    this.#probes.add(child);
    try {
      const exit = await child.waitForExit(timeoutMs);
      const said = `${exit.stdout}${exit.stderr}`.trim();
      return { ok: exit.code === 0, detail: said || `exit ${exit.code ?? exit.signal}` };
    } catch {
      return { ok: false, detail: `command timed out after ${timeoutMs} ms` };
    } finally {
      this.#probes.delete(child);
    }
  }

  #setReady(ready: boolean): void {
    if (this.#ready === ready || this.#exit) return;
    this.#ready = ready;
    this.#changed();
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#exit) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const off = this.onChange(() => this.#exit && done());
      function done(): void {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }

  #until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) finish();
        else if (this.#exit || this.failure) finish(new Error(`pod ${this.name} is not ${what}\n${this.describe()}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`pod ${this.name} did not reach ${what} within ${timeoutMs} ms\n${this.describe()}`)),
        timeoutMs,
      );
      const off = this.onChange(check);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        off();
        if (error) reject(error);
        else resolve();
      };
      check();
    });
  }
}

/**
 * The child helpers merge their env over the parent's; a container starts
 * from an empty environment, so every inherited variable is removed.
 */
function isolated(env: Readonly<Record<string, string>>): Record<string, string | undefined> {
  return { ...Object.fromEntries(Object.keys(process.env).map((key) => [key, undefined])), ...env };
}

function portFromDescriptor(dir: string, name: PortName): number | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.descriptor.json'));
  } catch {
    return undefined;
  }
  for (const file of files) {
    try {
      const port = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, { port?: unknown }>)[name]
        ?.port;
      if (typeof port === 'number' && port > 0) return port;
    } catch {
      // written atomically, but removed at exit: a missing file means not known
    }
  }
  return undefined;
}

/** The `"http":{"host","port"}` field of the app's "listening" JSON log line. */
function portFromLogs(stdout: string, name: PortName): number | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.includes(`"${name}":{`)) continue;
    try {
      const port = (JSON.parse(line) as Record<string, { port?: unknown }>)[name]?.port;
      if (typeof port === 'number' && port > 0) return port;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

function httpGet(port: number | undefined, path: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  if (port === undefined) return Promise.resolve({ ok: false, detail: 'port not listening yet' });
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' }, timeout: timeoutMs },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => resolve({ ok: status >= 200 && status < 400, detail: `HTTP ${status}` }));
        res.on('error', (error) => resolve({ ok: false, detail: error.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, detail: error.code ?? error.message }));
    req.end();
  });
}

function grpcCheck(
  port: number | undefined,
  service: string,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string }> {
  if (port === undefined) return Promise.resolve({ ok: false, detail: 'port not listening yet' });
  // A fresh connection per probe, as the kubelet dials one per gRPC probe.
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<{ ok: boolean; detail: string }>((resolve) => {
    client.check({ service }, new Metadata(), { deadline: Date.now() + timeoutMs }, (error, reply) => {
      if (error) resolve({ ok: false, detail: `${error.code} ${error.details}` });
      else
        resolve({
          ok: reply.status === HealthCheckResponse_ServingStatus.SERVING,
          detail: HealthCheckResponse_ServingStatus[reply.status] ?? String(reply.status),
        });
    });
  }).finally(() => client.close());
}
