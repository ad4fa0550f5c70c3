/**
 * The runtime files a running command writes and the exec probe reads: the
 * descriptor (where to probe), the ctl heartbeat, and the local control
 * socket. Shared by both sides; imports only node builtins, for the probe's
 * cold start.
 *
 * The runtime directory is trusted only when it is this user's own: a
 * directory owned by anyone else, writable by group or others, or a symbolic
 * link is refused (another local user could plant files in it). Files are
 * written without following symbolic links and read only when they are
 * regular files of this user, small, and opened without blocking (a FIFO
 * would wedge the event loop in open()).
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export type ProbeName = 'startup' | 'liveness' | 'readiness';
export type Transport = 'http' | 'grpc' | 'ctl';

/** Where a server listens, as the probe dials it: a loopback address when the server binds a wildcard one. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface Descriptor {
  readonly format: 1;
  readonly app: string;
  readonly command: string;
  /** How the probe asks: the server kind of the command. */
  readonly transport: Transport;
  readonly pid: number;
  /** The script (or executable) that runs the app: a probe only trusts descriptors of its own binary. */
  readonly entry: string;
  readonly startedAt: string;
  readonly admin?: Endpoint;
  readonly http?: Endpoint;
  readonly grpc?: Endpoint;
}

export interface ProbeState {
  readonly status: 'pass' | 'fail';
  readonly reason?: string;
}

export interface Heartbeat {
  readonly format: 1;
  readonly pid: number;
  /** Epoch milliseconds of the last refresh. */
  readonly at: number;
  /** Past this age (ms) the heartbeat is stale and every probe fails. */
  readonly staleAfterMs: number;
  readonly probes: Readonly<Record<ProbeName, ProbeState>>;
}

// Every path is built from the runtime directory and a command name, never read from a file's content.
export const descriptorFile = (dir: string, command: string): string => join(dir, `${command}.descriptor.json`);
export const heartbeatFile = (dir: string, command: string): string => join(dir, `${command}.heartbeat.json`);
export const socketFile = (dir: string, command: string): string => join(dir, `${command}.sock`);
export const DESCRIPTOR_SUFFIX = '.descriptor.json';

/** Runtime files are a few hundred bytes; anything larger than this is not one of ours. */
export const MAX_RUNTIME_FILE_BYTES = 64 * 1024;

// Absent on Windows, where the checks they back do not apply.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const NONBLOCK = constants.O_NONBLOCK ?? 0;

/** The effective uid, where the platform has one. */
export function effectiveUid(): number | undefined {
  return process.geteuid?.();
}

/**
 * Where the runtime directories of this user live, and how their names
 * start: `$XDG_RUNTIME_DIR/dionysus-<app>` when that variable names a
 * directory (it is the user's own, 0700), else `<os tmp>/dionysus-<uid>-<app>`.
 */
export function runtimeRoot(env: NodeJS.ProcessEnv): { base: string; prefix: string } {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && isAbsolute(xdg)) return { base: xdg, prefix: 'dionysus-' };
  const uid = effectiveUid();
  return { base: tmpdir(), prefix: uid === undefined ? 'dionysus-' : `dionysus-${uid}-` };
}

export function defaultRuntimeDir(app: string, env: NodeJS.ProcessEnv): string {
  const { base, prefix } = runtimeRoot(env);
  return join(base, `${prefix}${app}`);
}

/** Why a runtime directory cannot be trusted, or undefined when it is this user's own. */
export function distrust(dir: string): string | undefined {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${dir} does not exist` : `cannot read ${dir} (${code})`;
  }
  if (stat.isSymbolicLink()) return `runtime directory ${dir} is a symbolic link`;
  if (!stat.isDirectory()) return `runtime directory ${dir} is not a directory`;
  const uid = effectiveUid();
  if (uid !== undefined && stat.uid !== uid) {
    return `runtime directory ${dir} is owned by uid ${stat.uid}, not by this user (uid ${uid})`;
  }
  if (uid !== undefined && (stat.mode & 0o022) !== 0) {
    return `runtime directory ${dir} is writable by group or others (mode ${(stat.mode & 0o777).toString(8)})`;
  }
  return undefined;
}

/**
 * Creates the runtime directory (0700) or checks the existing one; throws a
 * message naming the directory and the fix when it cannot be trusted.
 */
export function ensureRuntimeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new Error(`cannot create the runtime directory ${dir}: ${(error as Error).message}`);
  }
  const problem = distrust(dir);
  if (problem) {
    throw new Error(
      `${problem}: another user could plant files in it. Remove it, or make it yours with mode 0700 ` +
        '(chown, chmod 700), or set DIONYSUS_RUNTIME_DIR (dionysus.runtimeDir) to a directory of your own',
    );
  }
}

/**
 * Writes JSON so that a reader sees the old file or the new one, never half
 * of one: a fresh temporary file (never an existing one, never through a
 * symbolic link), then a rename. The temporary file is gone after a failure.
 */
export function writeJsonAtomic(path: string, data: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(tmp, flags, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Left by a process of ours with this pid that died mid-write (pids repeat across container restarts).
    rmSync(tmp, { force: true });
    fd = openSync(tmp, flags, 0o600);
  }
  try {
    try {
      writeSync(fd, `${JSON.stringify(data)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

export type Read = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * Parsed JSON of a runtime file, or a reason it could not be read: only a
 * regular file owned by this user, at most MAX_RUNTIME_FILE_BYTES, opened
 * without following a symbolic link and without blocking.
 */
export function readJson(path: string): Read {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW | NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: `${path} does not exist` };
    if (code === 'ELOOP') return { ok: false, reason: `${path} is a symbolic link` };
    return { ok: false, reason: `cannot read ${path} (${code})` };
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { ok: false, reason: `${path} is not a regular file` };
    const uid = effectiveUid();
    if (uid !== undefined && stat.uid !== uid) {
      return { ok: false, reason: `${path} is owned by uid ${stat.uid}, not by this user (uid ${uid})` };
    }
    if (stat.size > MAX_RUNTIME_FILE_BYTES) {
      return { ok: false, reason: `${path} is larger than ${MAX_RUNTIME_FILE_BYTES} bytes` };
    }
    // One byte more than allowed: a file that grew after fstat is still caught.
    const buffer = Buffer.alloc(MAX_RUNTIME_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > MAX_RUNTIME_FILE_BYTES) {
        return { ok: false, reason: `${path} is larger than ${MAX_RUNTIME_FILE_BYTES} bytes` };
      }
    }
    text = buffer.toString('utf8', 0, length);
  } catch (error) {
    return { ok: false, reason: `cannot read ${path} (${(error as NodeJS.ErrnoException).code})` };
  } finally {
    closeSync(fd);
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: `${path} is not valid JSON` };
  }
}

export function removeQuietly(path: string): void {
  rmSync(path, { force: true });
}

/**
 * Whether a process with this pid exists (signal 0 checks without sending).
 * Only positive integers: `kill(0)` and `kill(-1)` address process groups,
 * which always "exist".
 */
export function isAlive(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The endpoint a descriptor records for a server kind, or why there is none.
 * Descriptors without a host (older binaries) name a loopback server.
 */
export function endpointOf(descriptor: Descriptor, kind: 'http' | 'grpc'): Endpoint | string {
  const at = descriptor[kind] as Partial<Endpoint> | undefined;
  const port = at?.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 65535) {
    return `the descriptor of ${descriptor.command} names no ${kind} port`;
  }
  const host = at?.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !/^[\w.:-]{1,253}$/.test(host)) {
    return `the descriptor of ${descriptor.command} names no valid ${kind} host`;
  }
  return { host, port };
}

/** `host:port`, with brackets around an IPv6 address. */
export function endpointText(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/**
 * The binary that runs the app: the entry script, or the executable itself
 * (single-file builds). A descriptor records it; a probe trusts only its own.
 */
export function entryOf(): string {
  const entry = process.argv[1] ?? process.execPath;
  try {
    return realpathSync(entry);
  } catch {
    return entry;
  }
}

// The exec probes' flags and limits, for the probe and for the CLI's help. Here rather than in a file of
// their own: every module the probe loads costs its cold start (bench/probes), and both load this one.

/**
 * The longest delay a Node.js timer keeps (2^31 - 1 ms, about 24.8 days);
 * a longer one fires after 1 ms, with a TimeoutOverflowWarning.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** Below Kubernetes' default probe timeout of 1 s, so the probe answers before the kubelet gives up. */
export const DEFAULT_TIMEOUT_MS = 800;

export const PROBE_FLAGS = [
  { flag: '--command', value: 'NAME', description: 'the running command to ask, when several run here' },
  {
    flag: '--runtime-dir',
    value: 'DIR',
    description:
      "where the runtime descriptor is (default DIONYSUS_RUNTIME_DIR, else this user's dionysus-<app> directory)",
  },
  {
    flag: '--timeout',
    value: 'MS',
    description: `give up after this many milliseconds (default ${DEFAULT_TIMEOUT_MS})`,
  },
] as const;

export const PROBE_USAGE = `startup|liveness|readiness ${PROBE_FLAGS.map((f) => `[${f.flag} ${f.value}]`).join(' ')}`;

export const PROBE_DETAILS =
  'Finds the running command through its runtime descriptor and asks it over its transport: exit 0 when the probe passes, 1 with one line saying why when it fails. With HEALTH_STATUS=open|close, flips the switch instead.';
