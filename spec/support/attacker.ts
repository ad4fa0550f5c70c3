import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A second local OS user for specs that play an attack on a shared host:
 * created once when the suite runs as root, its steps run as that user.
 * Without root there is no second user to be: `skipReason` says so and the
 * specs skip with it.
 */
export const ATTACKER = 'dionysus-spec-attacker';

export interface Attacker {
  readonly uid: number;
  readonly gid: number;
  /** Runs a shell script as the attacker; throws with its stderr when it fails. */
  run(script: string): void;
}

export function skipReason(): string | undefined {
  return process.geteuid?.() === 0 ? undefined : 'needs root, to create a second OS user';
}

/** The attacker user, created on first use. */
export function attacker(): Attacker {
  if (spawnSync('id', ['-u', ATTACKER]).status !== 0) {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/bin/sh', ATTACKER]);
  }
  const uid = Number(execFileSync('id', ['-u', ATTACKER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', ATTACKER], { encoding: 'utf8' }).trim());
  return {
    uid,
    gid,
    run(script) {
      const result = spawnSync('sh', ['-c', script], { uid, gid, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`attacker step failed: ${script}\n${result.stderr}`);
    },
  };
}

const shared: string[] = [];

/** A fresh directory like /tmp: everyone may create entries (mode 1777). Use as the TMPDIR of both sides. */
export function sharedTmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shared-tmp-'));
  chmodSync(dir, 0o1777);
  shared.push(dir);
  return dir;
}

export function removeSharedTmps(): void {
  for (const dir of shared.splice(0)) rmSync(dir, { recursive: true, force: true });
}
