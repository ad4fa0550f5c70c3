/**
 * `app startup|liveness|readiness`: the exec probe client. It finds the
 * running command through its runtime descriptor, asks it over the command's
 * own transport and prints one line. It loads none of the app, the
 * container, the servers or telemetry: its cold start is a benchmark target,
 * so everything here is node builtins and small files of this folder.
 */
import { readdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_TIMER_MS } from '../config/defaults.js';
import { type Descriptor, entryOf, isAlive, type ProbeName, readJson, type Transport } from './files.js';

export interface Answer {
  readonly ok: boolean;
  /** Why it failed, or what was done; one line. */
  readonly detail?: string;
}

/** How the probe speaks to one kind of command. */
export interface ProbeTransport {
  ask(descriptor: Descriptor, probe: ProbeName, timeoutMs: number): Promise<Answer>;
  flip(
    descriptor: Descriptor,
    probe: ProbeName,
    open: boolean,
    timeoutMs: number,
    env: NodeJS.ProcessEnv,
  ): Promise<Answer>;
}

const TRANSPORTS: Record<Transport, () => ProbeTransport> = {
  ctl: () => (require('./ctl.js') as typeof import('./ctl.js')).ctlTransport,
  http: () => (require('./http.js') as typeof import('./http.js')).httpTransport,
  grpc: () => (require('./grpc.js') as typeof import('./grpc.js')).grpcTransport,
};

/** Below Kubernetes' default probe timeout of 1 s, so the probe answers before the kubelet gives up. */
const DEFAULT_TIMEOUT_MS = 800;
const PROBES: readonly string[] = ['startup', 'liveness', 'readiness'];
const USAGE = 'usage: <app> startup|liveness|readiness [--command NAME] [--runtime-dir DIR] [--timeout MS]';

interface Flags {
  command?: string;
  runtimeDir?: string;
  timeoutMs: number;
}

export interface ProbeIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Writes straight to fd 1 or 2. The first touch of `process.stdout` builds a
 * stream (over a pipe, as under a kubelet: node:net and node:stream), which
 * costs ~0.08× `node -e 0` and ~1.5 MB, against a ≤ 1.2× target (bench/probes).
 * One short line to a pipe is written whole; on any error the stream is used.
 */
function direct(fd: 1 | 2): { write(text: string): unknown } {
  return {
    write(text: string) {
      try {
        writeSync(fd, text);
      } catch {
        (fd === 1 ? process.stdout : process.stderr).write(text);
      }
    },
  };
}

/** Runs one probe; resolves to the exit code (0 pass, 1 fail, 2 bad arguments). */
export async function runProbe(
  argv: readonly string[],
  io: ProbeIo = { stdout: direct(1), stderr: direct(2), env: process.env },
): Promise<number> {
  const probe = argv[0] as ProbeName;
  const parsed = parseFlags(argv.slice(1));
  if (!PROBES.includes(probe) || typeof parsed === 'string') {
    io.stderr.write(`${typeof parsed === 'string' ? parsed : `unknown probe ${JSON.stringify(probe)}`}\n${USAGE}\n`);
    return 2;
  }
  const status = io.env.HEALTH_STATUS;
  if (status !== undefined && status !== '' && status !== 'open' && status !== 'close') {
    io.stderr.write(`HEALTH_STATUS must be open or close, got ${JSON.stringify(status)}\n`);
    return 2;
  }
  const answer = await withDeadline(parsed.timeoutMs, () => answerProbe(probe, parsed, status || undefined, io.env));
  io.stdout.write(
    answer.ok ? `${probe} ok${answer.detail ? `: ${answer.detail}` : ''}\n` : `${probe} failed: ${answer.detail}\n`,
  );
  return answer.ok ? 0 : 1;
}

async function answerProbe(
  probe: ProbeName,
  flags: Flags,
  status: 'open' | 'close' | undefined,
  env: NodeJS.ProcessEnv,
): Promise<Answer> {
  const found = findDescriptor(flags, env);
  if ('reason' in found) return { ok: false, detail: found.reason };
  const { descriptor } = found;
  if (!isAlive(descriptor.pid)) {
    return {
      ok: false,
      detail: `process ${descriptor.pid} of command ${descriptor.command} is not running (stale descriptor)`,
    };
  }
  const transport = TRANSPORTS[descriptor.transport]();
  return status === undefined
    ? transport.ask(descriptor, probe, flags.timeoutMs)
    : transport.flip(descriptor, probe, status === 'open', flags.timeoutMs, env);
}

const FLAGS: readonly string[] = ['--command', '--runtime-dir', '--timeout'];

function parseFlags(args: readonly string[]): Flags | string {
  const flags: Flags = { timeoutMs: DEFAULT_TIMEOUT_MS };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    // Before taking a value: `--verbose` is unknown, not missing one.
    if (!FLAGS.includes(name as string)) {
      return name?.startsWith('-')
        ? `unknown option ${JSON.stringify(name)}`
        : `unexpected argument ${JSON.stringify(arg)}`;
    }
    const value = inline ?? args[++i];
    if (value === undefined || value === '') return `option ${name} needs a value`;
    if (name === '--command') flags.command = value;
    else if (name === '--runtime-dir') flags.runtimeDir = value;
    else if (name === '--timeout') {
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms <= 0)
        return `--timeout must be a positive number of milliseconds, got ${JSON.stringify(value)}`;
      if (ms > MAX_TIMER_MS) return `--timeout ${ms} is longer than ${MAX_TIMER_MS} ms, the longest a timer can wait`;
      flags.timeoutMs = ms;
    }
  }
  return flags;
}

/**
 * The descriptor of the running command: from `--runtime-dir` or
 * DIONYSUS_RUNTIME_DIR, else from the default runtime dirs, keeping only
 * descriptors written by this same binary.
 */
function findDescriptor(flags: Flags, env: NodeJS.ProcessEnv): { descriptor: Descriptor } | { reason: string } {
  const explicit = flags.runtimeDir ?? (env.DIONYSUS_RUNTIME_DIR || undefined);
  const dirs = explicit ? [explicit] : defaultDirs();
  const entry = explicit ? undefined : entryOf();
  const found: Descriptor[] = [];
  const problems: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.descriptor.json'));
    } catch {
      continue;
    }
    for (const name of names) {
      const read = readJson(join(dir, name));
      if (!read.ok) {
        problems.push(read.reason);
        continue;
      }
      if (!isDescriptor(read.value)) {
        problems.push(`${join(dir, name)} is not a runtime descriptor`);
        continue;
      }
      if (entry && read.value.entry !== entry) continue;
      if (flags.command && read.value.command !== flags.command) continue;
      found.push(read.value);
    }
  }
  // A descriptor left by a killed process must not hide the live one beside it.
  const live = found.length > 1 ? found.filter((d) => isAlive(d.pid)) : found;
  if (live.length === 1) return { descriptor: live[0] as Descriptor };
  const where = explicit ?? `${join(tmpdir(), 'dionysus-*')}`;
  if (live.length > 1) {
    return { reason: `several commands run here (${live.map((d) => d.command).join(', ')}); pass --command NAME` };
  }
  const what = flags.command ? `command ${flags.command}` : 'command';
  return { reason: `no running ${what} found in ${where}${problems.length ? ` (${problems.join('; ')})` : ''}` };
}

function defaultDirs(): string[] {
  const base = tmpdir();
  try {
    return readdirSync(base)
      .filter((n) => n.startsWith('dionysus-'))
      .map((n) => join(base, n));
  } catch {
    return [];
  }
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Partial<Descriptor> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.format === 1 &&
    typeof d.pid === 'number' &&
    typeof d.command === 'string' &&
    (d.transport === 'ctl' || d.transport === 'http' || d.transport === 'grpc')
  );
}

function withDeadline(ms: number, work: () => Promise<Answer>): Promise<Answer> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${ms} ms` }), ms);
    work().then(
      (answer) => {
        clearTimeout(timer);
        resolve(answer);
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, detail: error instanceof Error ? error.message : String(error) });
      },
    );
  });
}
