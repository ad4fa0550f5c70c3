/**
 * The writing side of the runtime files (lib/probe/files.ts is the reading
 * side the exec probe loads): the 0700 runtime directory, atomic writes that
 * never follow a symbolic link, and removal.
 */
import { closeSync, constants, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { distrust, runtimeRoot } from '../probe/files.js';

// Absent on Windows, where the check it backs does not apply.
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

export function defaultRuntimeDir(app: string, env: NodeJS.ProcessEnv): string {
  const { base, prefix } = runtimeRoot(env);
  return join(base, `${prefix}${app}`);
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

export function removeQuietly(path: string): void {
  rmSync(path, { force: true });
}
