/**
 * The entry point of an app binary. Probe commands (`startup`, `liveness`,
 * `readiness`) are answered before the app's modules are imported, so a
 * kubelet exec probe pays for little more than starting node.
 *
 * This file must stay light: at the top level it imports only the probe's
 * runtime-files module, which the probe, `--help` and every run load anyway.
 *
 * `load` returns the app module or a promise of it: in a CommonJS build,
 * `() => require('./app.js')` skips the ESM loader a dynamic `import()` of a
 * CommonJS file starts (~6 ms of every cold start); ESM apps use `import()`.
 *
 * @example
 * // main.ts
 * import { launch } from 'dionysus/launch';
 * launch(() => import('./app.js'));
 */
import { isProbeName } from './probe/files.js';

export function launch(load: () => unknown, argv: readonly string[] = process.argv.slice(2)): void {
  if (isProbeName(argv[0])) {
    exitWith((require('./probe/main.js') as typeof import('./probe/main.js')).runProbe(argv));
    return;
  }
  // What the app's modules declare while they load is the app's: a controller among them that no
  // command lists is named at start (in a test process, other apps' classes are declared too).
  const { declaredServerClasses } = require('../decorators/metadata.js') as typeof import('../decorators/metadata.js');
  const before = declaredServerClasses().length;
  exitWith(
    Promise.resolve()
      .then(load)
      .then((exports) => {
        const { findMainClass } = require('./plan/plan.js') as typeof import('./plan/plan.js');
        const main = findMainClass(exports);
        if (!main) {
          throw new Error('launch: the loaded module exports no @Main class (export it as default or by name)');
        }
        const declared = declaredServerClasses().slice(before);
        return (require('./app.js') as typeof import('./app.js')).execute(main, { argv, declared });
      }),
  );
}

function exitWith(started: Promise<number>): void {
  started.then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
