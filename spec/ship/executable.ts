import { chmodSync, copyFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { DIST, node } from '../integration/child.js';

/** What shipping an executable leaves in an empty folder. */
export interface Shipped {
  /** The folder: the executable, and `native/` when the builder wrote one. */
  readonly home: string;
  readonly app: string;
}

/**
 * Builds the single executable of a compiled entry and copies what ships into
 * `home`, an empty folder with no node_modules above it, the way a container
 * image holds it: the executable and, if the builder wrote it, `native/`.
 * Anything the bundle failed to take along cannot be found from there.
 */
export async function shipExecutable(entry: string, home: string): Promise<Shipped> {
  const build = mkdtempSync(join(tmpdir(), 'dionysus-build-'));
  try {
    const built = await node(join(DIST, 'lib', 'ship', 'build-binary.js'), [
      entry,
      '--out',
      join(build, 'app'),
    ]).waitForExit(120_000);
    expect(built.code, built.stderr).to.equal(0);
    const app = join(home, 'app');
    copyFileSync(join(build, 'app'), app);
    chmodSync(app, 0o755);
    if (existsSync(join(build, 'native'))) cpSync(join(build, 'native'), join(home, 'native'), { recursive: true });
    for (let dir = home; ; dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules')), `${dir} must have no node_modules for this spec to mean anything`)
        .to.be.false;
      if (dirname(dir) === dir) break;
    }
    return { home, app };
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
}

/** Temp folders for a describe block, removed together by `removeAll` (call it in `after`). */
export function tempFolders(): { temp(prefix: string): string; removeAll(): void } {
  const made: string[] = [];
  return {
    temp(prefix) {
      const dir = mkdtempSync(join(tmpdir(), `dionysus-${prefix}-`));
      made.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
