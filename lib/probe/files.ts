/**
 * The runtime files a running command writes and the exec probe reads: the
 * descriptor (where to probe), the ctl heartbeat and the ctl control file.
 * Shared by both sides; imports only node builtins, for the probe's cold start.
 */
import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type ProbeName = 'startup' | 'liveness' | 'readiness';
export type Transport = 'http' | 'grpc' | 'ctl';

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
  readonly admin?: { readonly port: number };
  readonly http?: { readonly port: number };
  readonly grpc?: { readonly port: number };
  /** ctl: heartbeat and control files. */
  readonly heartbeat?: string;
  readonly control?: string;
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

/** Switches the probe asks a ctl command to set; applied only by the process with this pid. */
export interface Control {
  readonly format: 1;
  readonly pid: number;
  readonly switches: Partial<Record<ProbeName, 'open' | 'close'>>;
}

export const descriptorFile = (dir: string, command: string): string => join(dir, `${command}.descriptor.json`);
export const heartbeatFile = (dir: string, command: string): string => join(dir, `${command}.heartbeat.json`);
export const controlFile = (dir: string, command: string): string => join(dir, `${command}.control.json`);

/** Writes JSON so that a reader sees the old file or the new one, never half of one. */
export function writeJsonAtomic(path: string, data: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Parsed JSON, or a reason it could not be read. */
export function readJson(path: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path} (${code})` };
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

/** Whether a process with this pid exists (signal 0 checks without sending). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
