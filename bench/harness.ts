/**
 * The benchmark harness: cold starts of command lines, compared run by run
 * against baselines measured in the same run, and printed as ratios. Benchmarks
 * are not tests: they print figures next to their targets and never fail on a
 * slow machine (only a command that does not run at all is an error).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

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
