/**
 * The benchmark harness: cold starts of command lines, compared run by run
 * against baselines measured in the same run, and printed as ratios. Benchmarks
 * are not tests: they print figures next to their targets and never fail on a
 * slow machine (only a command that does not run at all is an error).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Descriptor } from '../lib/probe/files.js';

/** The repository root (this file runs as `dist/bench/harness.js`). */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** What a `bench/*.bench.ts` file exports as default. */
export interface Bench {
  /** One line: what is measured against what. */
  readonly description: string;
  run(): BenchResult | Promise<BenchResult>;
}

export interface BenchResult {
  readonly reports: readonly ColdStartReport[];
  /** Printed after the tables, one line each. */
  readonly notes?: readonly string[];
}

// ---------------------------------------------------------------------------
// Environment and settings

/**
 * The environment of every measured process. `NODE_EXTRA_CA_CERTS` is removed
 * on every side, whatever the caller passes: where it is set, each node start
 * reads and parses a CA bundle (~85 ms on a dev machine) that a container never
 * pays, and which would swamp the differences we measure.
 */
export function benchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

export interface RunCounts {
  /** Measured runs per command. `BENCH_RUNS` @default 30 */
  readonly runs: number;
  /** Unmeasured runs per command first, to warm the disk cache. `BENCH_WARMUPS` @default 3 */
  readonly warmups: number;
}

export function runCountsFromEnv(env: NodeJS.ProcessEnv = process.env): RunCounts {
  return { runs: count(env, 'BENCH_RUNS', 30, 1), warmups: count(env, 'BENCH_WARMUPS', 3, 0) };
}

function count(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${key}=${raw}: expected an integer >= ${min}`);
  return value;
}

// ---------------------------------------------------------------------------
// Statistics

/** The q-quantile (0..1) by linear interpolation between closest ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

// ---------------------------------------------------------------------------
// Peak memory

/**
 * Peak RSS comes from GNU time (`time -f %M`, Debian package `time`): node
 * cannot read a child's rusage. Every command runs under it, so its cost
 * (under a millisecond: one small exec) is the same on every side.
 */
interface MemoryProbe {
  /** How peak RSS is measured, or why it is not. */
  readonly how: string;
  readonly wrap?: (command: readonly string[]) => string[];
  readonly read?: (stderr: string) => number | undefined;
}

const RSS_MARKER = 'dionysus-bench-peak-rss-kb=';

let memoryProbe: MemoryProbe | undefined;

function detectMemoryProbe(): MemoryProbe {
  if (process.env.BENCH_MEMORY === 'off') return { how: 'peak RSS not measured (BENCH_MEMORY=off)' };
  const wrap = (command: readonly string[]): string[] => ['time', '-f', `\n${RSS_MARKER}%M`, ...command];
  const read = (stderr: string): number | undefined => {
    const match = new RegExp(`${RSS_MARKER}(\\d+)\\s*$`).exec(stderr);
    return match ? Number(match[1]) : undefined;
  };
  const [file, ...args] = wrap([process.execPath, '-e', '0']);
  const probe = spawnSync(file!, args, { env: benchEnv(), encoding: 'utf8' });
  if (probe.status === 0 && read(probe.stderr) !== undefined) return { how: 'peak RSS by GNU time', wrap, read };
  return { how: 'peak RSS unavailable: GNU time not found (Debian/Ubuntu: apt-get install time)' };
}

// ---------------------------------------------------------------------------
// Cold start

export interface Subject {
  /** Its row in the table, and how baselines and targets name it. */
  readonly name: string;
  /** The command line; run without a shell. */
  readonly command: readonly string[];
  readonly cwd?: string;
  /** Added to the environment (`NODE_EXTRA_CA_CERTS` is removed regardless). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A ratio the issue asks for: `subject` median ≤ `max` × `baseline` median. */
export interface Target {
  readonly subject: string;
  readonly baseline: string;
  readonly max: number;
}

export interface ColdStartOptions extends Partial<RunCounts> {
  readonly title: string;
  /** Subjects every row gets a ratio against (their medians in this same run). */
  readonly baselines: readonly string[];
  readonly targets?: readonly Target[];
  /** Default working directory of the subjects. */
  readonly cwd?: string;
}

export interface SubjectStats {
  readonly name: string;
  readonly command: readonly string[];
  readonly wallMs: readonly number[];
  readonly medianMs: number;
  readonly p90Ms: number;
  /** Undefined when peak memory cannot be measured here. */
  readonly medianPeakRssKb?: number;
}

export interface ColdStartReport {
  readonly title: string;
  readonly runs: number;
  readonly warmups: number;
  readonly memory: string;
  readonly subjects: readonly SubjectStats[];
  readonly baselines: readonly string[];
  readonly targets: readonly Target[];
}

/**
 * Starts every subject `warmups + runs` times, interleaved run by run
 * (A, B, C, A, B, C…) so that machine noise hits all of them alike, and
 * times each start from spawn to exit.
 */
export function coldStart(subjects: readonly Subject[], options: ColdStartOptions): ColdStartReport {
  const fromEnv = runCountsFromEnv();
  const runs = options.runs ?? fromEnv.runs;
  const warmups = options.warmups ?? fromEnv.warmups;
  const names = new Set(subjects.map((s) => s.name));
  for (const name of [...options.baselines, ...(options.targets ?? []).flatMap((t) => [t.subject, t.baseline])]) {
    if (!names.has(name)) throw new Error(`${options.title}: no subject named '${name}'`);
  }
  memoryProbe ??= detectMemoryProbe();
  const probe = memoryProbe;
  const wall = subjects.map(() => [] as number[]);
  const rss = subjects.map(() => [] as number[]);
  for (let round = 0; round < warmups + runs; round++) {
    subjects.forEach((subject, i) => {
      const sample = startOnce(subject, options.cwd, probe);
      if (round < warmups) return;
      wall[i]!.push(sample.wallMs);
      if (sample.peakRssKb !== undefined) rss[i]!.push(sample.peakRssKb);
    });
  }
  return {
    title: options.title,
    runs,
    warmups,
    memory: probe.how,
    baselines: options.baselines,
    targets: options.targets ?? [],
    subjects: subjects.map((subject, i) => ({
      name: subject.name,
      command: subject.command,
      wallMs: wall[i]!,
      medianMs: median(wall[i]!),
      p90Ms: quantile(wall[i]!, 0.9),
      medianPeakRssKb: rss[i]!.length > 0 ? median(rss[i]!) : undefined,
    })),
  };
}

function startOnce(
  subject: Subject,
  cwd: string | undefined,
  probe: MemoryProbe,
): { wallMs: number; peakRssKb?: number } {
  const [file, ...args] = probe.wrap ? probe.wrap(subject.command) : subject.command;
  const started = process.hrtime.bigint();
  const result = spawnSync(file!, args, {
    cwd: subject.cwd ?? cwd,
    env: benchEnv(subject.env),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error || result.status !== 0) {
    const why = result.error?.message ?? `exit code ${result.status ?? result.signal}`;
    throw new Error(`${subject.name} (${subject.command.join(' ')}) failed: ${why}\n${result.stderr ?? ''}`);
  }
  return { wallMs, peakRssKb: probe.read?.(result.stderr) };
}

/** `subject` median / `baseline` median, both from the same report. */
export function ratio(report: ColdStartReport, subject: string, baseline: string): number {
  const of = (name: string): SubjectStats => {
    const found = report.subjects.find((s) => s.name === name);
    if (!found) throw new Error(`${report.title}: no subject named '${name}'`);
    return found;
  };
  return of(subject).medianMs / of(baseline).medianMs;
}

// ---------------------------------------------------------------------------
// Throughput (HTTP, gRPC): to come with the servers, here, under the same
// rules as cold starts: baselines measured in the same run (bare node:http and
// bare grpc-js, DESIGN §7), subjects alternated in short slices so noise hits
// all alike, each server in its own process driven by a separate load process.
// It will report requests/s (median of slices) and latency p50/p99 with
// ratios; BenchResult.reports then holds either kind of report.

// ---------------------------------------------------------------------------
// Printing

/** The report as a table, then its targets (PASS/MISS is informative). */
export function formatReport(report: ColdStartReport): string {
  const hasRss = report.subjects.some((s) => s.medianPeakRssKb !== undefined);
  const header = ['', 'median ms', 'p90 ms', ...report.baselines.map((b) => `× ${b}`)];
  if (hasRss) header.push('peak RSS MB');
  const rows = report.subjects.map((s) => {
    const row = [s.name, s.medianMs.toFixed(1), s.p90Ms.toFixed(1)];
    for (const baseline of report.baselines) row.push(ratio(report, s.name, baseline).toFixed(2));
    if (hasRss) row.push(s.medianPeakRssKb === undefined ? '-' : (s.medianPeakRssKb / 1024).toFixed(1));
    return row;
  });
  const widths = header.map((_, col) => Math.max(...[header, ...rows].map((row) => row[col]!.length)));
  const line = (row: string[]): string =>
    `  ${row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('   ')}`;
  const out = [
    report.title,
    `  ${report.runs} runs per command after ${report.warmups} warm-ups, interleaved; NODE_EXTRA_CA_CERTS unset on every side; ${report.memory}`,
    '',
    line(header),
    ...rows.map(line),
    '',
    ...report.subjects.map((s) => `  ${s.name.padEnd(widths[0]!)} = ${displayCommand(s.command)}`),
  ];
  if (report.targets.length > 0) out.push('');
  for (const target of report.targets) {
    const measured = ratio(report, target.subject, target.baseline);
    const verdict = measured <= target.max ? 'PASS' : 'MISS';
    out.push(
      `  target: ${target.subject} ≤ ${target.max.toFixed(2)}× ${target.baseline} (median): measured ${measured.toFixed(2)}× ${verdict}`,
    );
  }
  return out.join('\n');
}

/** A command as one would type it: `node` for this node, quotes where needed. */
function displayCommand(command: readonly string[]): string {
  return command
    .map((arg, i) => (i === 0 && arg === process.execPath ? 'node' : arg))
    .map((arg) => (/^[\w./:=@%+-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$`])/g, '\\$1')}"`))
    .join(' ');
}

// ---------------------------------------------------------------------------
// Servers, load and tables for the server benches (probes, startup,
// throughput, drain). Each server runs in its own process, with its own
// runtime dir and ephemeral ports, so benches never see each other's files.

/** A fresh directory under the OS temp dir; the caller removes it. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dionysus-bench-${prefix}-`));
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** A positive number from the environment (seconds, counts), or the fallback. */
export function numberFromEnv(key: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${key}=${raw}: expected a positive number`);
  return value;
}

/**
 * Which cores a server and its load tool get: the first core for the server,
 * the second for the load, when `taskset` (util-linux) exists and there are
 * two cores or more; otherwise nothing is pinned and `how` says why.
 */
export interface Pinning {
  readonly server?: number;
  readonly load?: number;
  readonly how: string;
}

let pinning: Pinning | undefined;

export function cpuPinning(): Pinning {
  if (pinning) return pinning;
  const cores = availableParallelism();
  const probe = spawnSync('taskset', ['-c', '0', process.execPath, '-e', '0'], { env: benchEnv(), stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    pinning = { how: 'not pinned: taskset not found (Debian/Ubuntu: apt-get install util-linux)' };
  } else if (cores < 2) {
    pinning = { how: `not pinned: ${cores} core` };
  } else {
    pinning = { server: 0, load: 1, how: `server pinned to core 0, load to core 1 (taskset; ${cores} cores)` };
  }
  return pinning;
}

/** The command line run on one core (when pinning is possible). */
export function onCore(core: number | undefined, command: readonly string[]): string[] {
  return core === undefined ? [...command] : ['taskset', '-c', String(core), ...command];
}

/** What a running server published: the runtime descriptor of a dionysus command (or a bench's bare server). */
export type PublishedDescriptor = Partial<Descriptor> & { readonly pid: number };

export interface ServerOptions {
  /** Used in messages. */
  readonly name: string;
  readonly command: readonly string[];
  /** Added to the environment; HTTP_PORT, GRPC_PORT and ADMIN_PORT default to 0, DIONYSUS_RUNTIME_DIR to a fresh dir. */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Run on this core (see cpuPinning). */
  readonly core?: number;
  /** stdout and stderr: to a log file in the runtime dir (shown when the server fails), or discarded. @default 'file' */
  readonly output?: 'file' | 'discard';
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly runtimeDir: string;
  readonly child: ChildProcess;
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The descriptor once it names `key` (a port or the heartbeat file). */
  descriptor(key: 'http' | 'grpc' | 'admin', timeoutMs?: number): Promise<PublishedDescriptor>;
  /** The end of its log file, for error messages. */
  logTail(): string;
  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`); removes the runtime dir. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a long-running server; its ports are found through its descriptor. */
export function startServer(options: ServerOptions): ServerProcess {
  const runtimeDir = options.env?.DIONYSUS_RUNTIME_DIR ?? tempDir(options.name.replace(/\W+/g, '-'));
  const logFile = join(runtimeDir, `${options.name.replace(/\W+/g, '-')}.log`);
  const fd = options.output === 'discard' ? undefined : openSync(logFile, 'w');
  const [file, ...args] = onCore(options.core, options.command);
  const child = spawn(file!, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: benchEnv({
      HTTP_PORT: '0',
      GRPC_PORT: '0',
      ADMIN_PORT: '0',
      DIONYSUS_RUNTIME_DIR: runtimeDir,
      ...options.env,
    }),
    stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
  });
  if (fd !== undefined) closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const logTail = (): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  };
  return {
    name: options.name,
    pid: child.pid!,
    runtimeDir,
    child,
    exited,
    logTail,
    async descriptor(key, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (gone) throw new Error(`${options.name} exited before it was ready:\n${logTail()}`);
        for (const name of safeReaddir(runtimeDir).filter((n) => n.endsWith('.descriptor.json'))) {
          try {
            const descriptor = JSON.parse(readFileSync(join(runtimeDir, name), 'utf8')) as PublishedDescriptor;
            if (descriptor[key] !== undefined) return descriptor;
          } catch {
            // written atomically, but a bare server may be mid-write: try again
          }
        }
        if (Date.now() > deadline) throw new Error(`${options.name}: no descriptor with ${key} in ${timeoutMs} ms`);
        await sleep(10);
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (!gone) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      rmSync(runtimeDir, { recursive: true, force: true });
      return result;
    },
  };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Polls `check` every `intervalMs` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** The status of one GET on loopback (a fresh connection), or 0 when it fails. */
export function httpStatus(port: number, path: string, timeoutMs = 1_000): Promise<number> {
  return new Promise((done) => {
    const request = httpGet({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      response.on('end', () => done(response.statusCode ?? 0));
      response.on('error', () => done(0));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => done(0));
  });
}

/** A port nothing listens on right now (bound, then closed). */
export function closedPort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createNetServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system, ms) a process has used so far, from
 * `/proc/<pid>/stat`; undefined where there is no procfs.
 */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces) start at state, field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (clockTicks === undefined) {
    const conf = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(conf.stdout) > 0 ? Number(conf.stdout) : 100;
  }
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/** `PASS` when `measured` is within `bound` (at most for 'max', at least for 'min'). */
export function verdict(measured: number, bound: number, kind: 'max' | 'min' = 'max'): 'PASS' | 'MISS' {
  return (kind === 'max' ? measured <= bound : measured >= bound) ? 'PASS' : 'MISS';
}

/** One target line as formatReport prints them: `target: <what> ≤ 1.20× …: measured 1.10× PASS`. */
export function targetLine(
  what: string,
  baseline: string,
  measured: number,
  bound: number,
  kind: 'max' | 'min' = 'max',
): string {
  const sign = kind === 'max' ? '≤' : '≥';
  return `target: ${what} ${sign} ${bound.toFixed(2)}× ${baseline}: measured ${measured.toFixed(2)}× ${verdict(measured, bound, kind)}`;
}

/** A table as lines: first column left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((_, col) => Math.max(...[header, ...rows].map((row) => (row[col] ?? '').length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The sample's single executable, as the benches get it. */
export interface Executable {
  readonly path: string;
  readonly bytes: number;
  /** How it was obtained, for the notes. */
  readonly how: string;
  /** Removes what was built for this run. */
  dispose(): void;
}

/**
 * The sample's single executable: `BENCH_EXE=<path>` reuses one built before,
 * `BENCH_EXE=off` skips it (undefined), else it is built once into a temp dir
 * (`dist/lib/ship/build-binary.js`, a few seconds).
 */
export function sampleExecutable(env: NodeJS.ProcessEnv = process.env): Executable | undefined {
  const wanted = env.BENCH_EXE;
  if (wanted === 'off') return undefined;
  if (wanted) {
    const path = resolve(wanted);
    return { path, bytes: statSync(path).size, how: `BENCH_EXE=${wanted}`, dispose() {} };
  }
  const dir = tempDir('exe');
  const path = join(dir, 'app');
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'dist/lib/ship/build-binary.js'), join(REPO_ROOT, 'dist/samples/app/main.js'), '--out', path],
    { cwd: REPO_ROOT, env: benchEnv(), encoding: 'utf8' },
  );
  if (result.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`building the executable failed:\n${result.stderr}${result.stdout}`);
  }
  return {
    path,
    bytes: statSync(path).size,
    how: `built into a temp dir in ${((Date.now() - started) / 1000).toFixed(1)} s (BENCH_EXE=<path> reuses one, BENCH_EXE=off skips it)`,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
