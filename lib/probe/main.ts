/**
 * `app startup|liveness|readiness`: the exec probe client. It finds the
 * running command through its runtime descriptor, asks it over the command's
 * own transport and prints one line. It loads none of the app, the
 * container, the servers or telemetry: its cold start is a benchmark target,
 * so everything here is node builtins and small files of this folder.
 */
import { readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_TIMEOUT_MS,
  DESCRIPTOR_SUFFIX,
  type Descriptor,
  distrust,
  entryOf,
  isAlive,
  isProbeName,
  MAX_TIMER_MS,
  type ProbeName,
  readJson,
  runtimeRoot,
  socketFile,
  type Transport,
} from './files.js';

export interface Answer {
  readonly ok: boolean;
  /** Why it failed, or what was done; one line. */
  readonly detail?: string;
  /** The server answered "unhealthy": its full reason can be asked over the local channel. */
  readonly answered?: boolean;
}

/** How the probe asks one kind of command; switches go over the local channel for every kind. */
export interface ProbeTransport {
  /** `dir` is the runtime directory the descriptor was found in: every other file is looked up there. */
  ask(descriptor: Descriptor, probe: ProbeName, timeoutMs: number, dir: string): Promise<Answer>;
}

const TRANSPORTS: Record<Transport, () => ProbeTransport> = {
  ctl: () => (require('./ctl.js') as typeof import('./ctl.js')).ctlTransport,
  http: () => (require('./http.js') as typeof import('./http.js')).httpTransport,
  grpc: () => (require('./grpc.js') as typeof import('./grpc.js')).grpcTransport,
};

// The help text is only parsed to be printed: a probe that passes never loads it (bench/probes).
const usage = (): typeof import('./usage.js') => require('./usage.js') as typeof import('./usage.js');
const usageLine = (): string => `usage: <app> ${usage().PROBE_USAGE}`;

function help(): string {
  const { PROBE_DETAILS, PROBE_FLAGS } = usage();
  const flags = PROBE_FLAGS.map((f) => `  ${`${f.flag} ${f.value}`.padEnd(19)}${f.description}`);
  return [usageLine(), PROBE_DETAILS, ...flags].join('\n');
}

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
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${help()}\n`);
    return 0;
  }
  const parsed = parseFlags(argv.slice(1));
  if (!isProbeName(probe) || typeof parsed === 'string') {
    io.stderr.write(
      `${typeof parsed === 'string' ? parsed : `unknown probe ${JSON.stringify(probe)}`}\n${usageLine()}\n`,
    );
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
  const { descriptor, dir } = found;
  if (!isAlive(descriptor.pid)) {
    return {
      ok: false,
      detail: `process ${descriptor.pid} of command ${descriptor.command} is not running (stale descriptor)`,
    };
  }
  const socket = socketFile(dir, descriptor.command);
  if (status !== undefined) {
    // The local channel: a socket in the 0700 runtime directory, so the same OS user needs no token.
    const reply = await local().askLocal(socket, { probe, open: status === 'open' }, flags.timeoutMs);
    if (typeof reply.switch !== 'string') return { ok: false, detail: `switch refused: ${String(reply.error)}` };
    return { ok: true, detail: `switch ${status}` };
  }
  const answer = await TRANSPORTS[descriptor.transport]().ask(descriptor, probe, flags.timeoutMs, dir);
  if (answer.ok || !answer.answered) return answer;
  // Servers tell strangers only the names of failing checks; the local channel tells the same user why.
  return { ok: false, detail: (await fullReason(socket, probe, descriptor.pid, flags.timeoutMs)) ?? answer.detail };
}

const local = (): typeof import('./local.js') => require('./local.js') as typeof import('./local.js');

async function fullReason(
  socket: string,
  probe: ProbeName,
  pid: number,
  timeoutMs: number,
): Promise<string | undefined> {
  try {
    const reply = await local().askLocal(socket, { probe }, timeoutMs);
    const report = reply.report as { reason?: unknown } | undefined;
    return reply.pid === pid && typeof report?.reason === 'string' ? report.reason : undefined;
  } catch {
    return undefined;
  }
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

interface Found {
  readonly descriptor: Descriptor;
  /** The runtime directory it was found in. */
  readonly dir: string;
}

/**
 * The descriptor of the running command: from `--runtime-dir` or
 * DIONYSUS_RUNTIME_DIR, else from this user's default runtime dirs, keeping
 * only descriptors written by this same binary. A directory that is not this
 * user's own is refused when named, and passed over in the default search
 * (another user may create `dionysus-*` names there).
 */
function findDescriptor(flags: Flags, env: NodeJS.ProcessEnv): Found | { reason: string } {
  const explicit = flags.runtimeDir ?? (env.DIONYSUS_RUNTIME_DIR || undefined);
  const { dirs, where } = explicit ? { dirs: [explicit], where: explicit } : defaultSearch(env);
  const entry = explicit ? undefined : entryOf();
  const found: Found[] = [];
  const problems: string[] = [];
  for (const dir of dirs) {
    const problem = distrust(dir);
    if (problem) {
      // A missing dir only means nothing runs; a refused one is worth saying when nothing is found.
      if (!problem.endsWith('does not exist')) problems.push(explicit ? problem : `${problem}: skipped`);
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith(DESCRIPTOR_SUFFIX));
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      const read = readJson(path);
      if (!read.ok) {
        problems.push(read.reason);
        continue;
      }
      // The command is the file's name: a descriptor claiming another one is not trusted for paths.
      if (!isDescriptor(read.value) || read.value.command !== name.slice(0, -DESCRIPTOR_SUFFIX.length)) {
        problems.push(`${path} is not a runtime descriptor`);
        continue;
      }
      if (entry && read.value.entry !== entry) continue;
      if (flags.command && read.value.command !== flags.command) continue;
      found.push({ descriptor: read.value, dir });
    }
  }
  // A descriptor left by a killed process must not hide the live one beside it.
  const live = found.length > 1 ? found.filter((f) => isAlive(f.descriptor.pid)) : found;
  if (live.length === 1) return live[0] as Found;
  if (live.length > 1) {
    const commands = live.map((f) => f.descriptor.command).join(', ');
    return { reason: `several commands run here (${commands}); pass --command NAME` };
  }
  const what = flags.command ? `command ${flags.command}` : 'command';
  return { reason: `no running ${what} found in ${where}${problems.length ? ` (${problems.join('; ')})` : ''}` };
}

/** This user's runtime directories, and how to name where they were looked for. */
function defaultSearch(env: NodeJS.ProcessEnv): { dirs: string[]; where: string } {
  const { base, prefix } = runtimeRoot(env);
  const where = join(base, `${prefix}*`);
  try {
    const dirs = readdirSync(base)
      .filter((n) => n.startsWith(prefix))
      .map((n) => join(base, n));
    return { dirs, where };
  } catch {
    return { dirs: [], where };
  }
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Partial<Descriptor> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.format === 1 &&
    typeof d.pid === 'number' &&
    Number.isSafeInteger(d.pid) &&
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
