import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, type Exit, node, SAMPLE } from '../integration/child.js';

/**
 * Helpers for exec-probe specs, on top of ../integration/child.ts: a ctl
 * command as a child with its own runtime dir, probes as separate processes,
 * and polling with a deadline instead of sleeps.
 */

/** Heartbeats this fast keep the suite quick: stale after 3 × 200 ms. */
export const HEARTBEAT_MS = 200;
export const STALE_AFTER_INTERVALS = 3;

/** Variables of the parent that would change what a child does. */
const CLEAN: Record<string, undefined> = {
  DIONYSUS_RUNTIME_DIR: undefined,
  HEALTH_STATUS: undefined,
  NODE_CONFIG: undefined,
  NODE_ENV: undefined,
  SAMPLE_DEPENDENCY_DOWN: undefined,
  SAMPLE_DEPENDENCY_LATENCY_MS: undefined,
  KUBERNETES_SERVICE_HOST: undefined,
};

const created: string[] = [];

/** A fresh runtime dir (not named `dionysus-*`, so probes never find it by default); see `removeRuntimeDirs`. */
export function runtimeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'health-spec-'));
  created.push(dir);
  return dir;
}

/** Removes the dirs `runtimeDir` made; use in `afterEach`, after the children are gone. */
export function removeRuntimeDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export const descriptorOf = (dir: string, command = 'ctl'): string => join(dir, `${command}.descriptor.json`);
export const heartbeatOf = (dir: string, command = 'ctl'): string => join(dir, `${command}.heartbeat.json`);

/** Parsed JSON of a runtime file, or undefined while it is missing. */
export function readRuntimeFile<T = Record<string, unknown>>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface CtlOptions {
  readonly dir?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to the sample app's entry. */
  readonly script?: string;
}

export interface RunningCtl {
  readonly child: Child;
  readonly dir: string;
  readonly pid: number;
}

/**
 * Starts `<script> ctl` in its own runtime dir and resolves once it runs:
 * its descriptor is written and its heartbeat passes startup.
 */
export async function startCtl(options: CtlOptions = {}): Promise<RunningCtl> {
  const dir = options.dir ?? runtimeDir();
  const child = node(options.script ?? SAMPLE, ['ctl'], {
    env: {
      ...CLEAN,
      DIONYSUS_RUNTIME_DIR: dir,
      ADMIN_PORT: '0',
      NODE_CONFIG: JSON.stringify({
        dionysus: { health: { heartbeatIntervalMs: HEARTBEAT_MS, staleAfterIntervals: STALE_AFTER_INTERVALS } },
      }),
      ...options.env,
    },
  });
  await eventually(
    () => {
      if (child.exited) throw new Error(`ctl exited before running\n${child.stdout}${child.stderr}`);
      const beat = readRuntimeFile<{ probes?: { startup?: { status?: string } } }>(heartbeatOf(dir));
      return existsSync(descriptorOf(dir)) && beat?.probes?.startup?.status === 'pass';
    },
    'the ctl command to run',
    5_000,
  );
  const pid = child.process.pid;
  if (pid === undefined) throw new Error('the ctl child has no pid');
  return { child, dir, pid };
}

export interface ProbeRun extends Exit {
  /** The one line the probe printed, without its newline. */
  readonly line: string;
}

/** Runs `<sample> <args…>` (a probe) as its own process, against `dir` unless `env` says otherwise. */
export async function probe(
  dir: string | undefined,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<ProbeRun> {
  const exit = await node(SAMPLE, args, { env: { ...CLEAN, DIONYSUS_RUNTIME_DIR: dir, ...env } }).waitForExit(5_000);
  return { ...exit, line: exit.stdout.replace(/\n$/, '') };
}

/**
 * Re-runs a probe until `accept` holds, and resolves with that run; past the
 * deadline it fails with the last run's output.
 */
export async function probeUntil(
  dir: string,
  args: readonly string[],
  accept: (run: ProbeRun) => boolean,
  options: { timeoutMs?: number; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<ProbeRun> {
  const deadline = Date.now() + (options.timeoutMs ?? 2_500);
  for (;;) {
    const run = await probe(dir, args, options.env);
    if (accept(run)) return run;
    if (Date.now() > deadline) {
      throw new Error(`probe ${args.join(' ')} never got the expected answer; last: code ${run.code}, ${run.line}`);
    }
  }
}

/** Polls `done` every few milliseconds until it holds; past the deadline it fails naming `what`. */
export async function eventually(done: () => boolean, what: string, timeoutMs = 2_500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
