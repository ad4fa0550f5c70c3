import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The app's version for `--version`: `@Main({ version })`, else the nearest
 * package.json above the entry script that is not inside node_modules.
 */
export function appVersion(declared: string | undefined, entry = process.argv[1]): string | undefined {
  if (declared) return declared;
  // Set at build time in single executables, which have no package.json beside them.
  if (process.env.DIONYSUS_APP_VERSION) return process.env.DIONYSUS_APP_VERSION;
  if (!entry) return undefined;
  for (let dir = dirname(resolve(entry)); ; dir = dirname(dir)) {
    if (!dir.split(/[\\/]/).includes('node_modules')) {
      try {
        const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
        if (typeof version === 'string') return version;
      } catch {
        // no package.json here, or not JSON: keep walking up
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}
