/**
 * The runtime files a running command writes and the exec probe reads: the
 * descriptor (where to probe), the ctl heartbeat, and the local control
 * socket. This is the reading side, which the probe loads, and what both
 * sides share; lib/health/runtime-files.ts writes. Only node builtins, and
 * as few of their functions as will do: the first call of each one costs
 * the probe's cold start (bench/probes).
 *
 * The runtime directory is trusted only when it is this user's own: a
 * directory owned by anyone else, writable by group or others, or a symbolic
 * link is refused (another local user could plant files in it). Files are
 * written without following symbolic links and read only when they are
 * regular files of this user, small, and opened without blocking (a FIFO
 * would wedge the event loop in open()).
 */
import { constants, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ServerKind } from '../../decorators/metadata.js';

/**
 * The three probes: the commands the launcher answers before the app loads,
 * the /healthx paths, the gRPC health service names. Defined here because
 * every path that needs them (the launcher, the probe, the CLI, health)
 * loads this file anyway.
 */
export const PROBE_NAMES = ['startup', 'liveness', 'readiness'] as const;
export type ProbeName = (typeof PROBE_NAMES)[number];

export function isProbeName(name: unknown): name is ProbeName {
  return (PROBE_NAMES as readonly unknown[]).includes(name);
}

/** How a probe asks a command: the command's server kind. */
export type Transport = ServerKind;

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
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

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
  return { base: tmpDir(env), prefix: uid === undefined ? 'dionysus-' : `dionysus-${uid}-` };
}

/**
 * `os.tmpdir()` on POSIX, written out: loading node:os costs a cold probe
 * about 2% of `node -e 0` (bench/probes). Windows keeps the real one.
 */
function tmpDir(env: NodeJS.ProcessEnv): string {
  if (process.platform === 'win32') return (require('node:os') as typeof import('node:os')).tmpdir();
  const dir = env.TMPDIR || env.TMP || env.TEMP || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
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

export type Read = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * Parsed JSON of a runtime file, or a reason it could not be read: only a
 * regular file owned by this user, at most MAX_RUNTIME_FILE_BYTES, read
 * without following a symbolic link and without blocking.
 *
 * An lstat, then a read that cannot follow a link or wait on a FIFO: that
 * costs a cold probe half of what open + fstat + read + close does (bench/
 * probes, counted in instructions). Between the two only this user can swap
 * the file, the directory being theirs and 0700 (`distrust`).
 */
export function readJson(path: string): Read {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch (error) {
    return { ok: false, reason: unreadable(path, error) };
  }
  if (stat.isSymbolicLink()) return { ok: false, reason: `${path} is a symbolic link` };
  if (!stat.isFile()) return { ok: false, reason: `${path} is not a regular file` };
  const uid = effectiveUid();
  if (uid !== undefined && stat.uid !== uid) {
    return { ok: false, reason: `${path} is owned by uid ${stat.uid}, not by this user (uid ${uid})` };
  }
  const tooLarge = `${path} is larger than ${MAX_RUNTIME_FILE_BYTES} bytes`;
  if (stat.size > MAX_RUNTIME_FILE_BYTES) return { ok: false, reason: tooLarge };
  let text: string;
  try {
    // Numeric flags, as fs.open takes them (readFileSync's types only say string); the probe-trust specs
    // prove that a link is not followed and that a FIFO does not block.
    text = readFileSync(path, { encoding: 'utf8', flag: READ_FLAGS as unknown as string });
  } catch (error) {
    return { ok: false, reason: unreadable(path, error) };
  }
  // Grown past the cap since the lstat (counted in characters, which are never more than its bytes).
  if (text.length > MAX_RUNTIME_FILE_BYTES) return { ok: false, reason: tooLarge };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: `${path} is not valid JSON` };
  }
}

function unreadable(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${path} does not exist`;
  if (code === 'ELOOP') return `${path} is a symbolic link`;
  // EAGAIN: a FIFO swapped in after the lstat, with a writer; the read did not wait.
  return `cannot read ${path} (${code})`;
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

// The exec probes' limits; their flags and help text are in ./usage.js, loaded only to print them.

/**
 * The longest delay a Node.js timer keeps (2^31 - 1 ms, about 24.8 days);
 * a longer one fires after 1 ms, with a TimeoutOverflowWarning.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** Below Kubernetes' default probe timeout of 1 s, so the probe answers before the kubelet gives up. */
export const DEFAULT_TIMEOUT_MS = 800;
