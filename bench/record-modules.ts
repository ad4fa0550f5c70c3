/**
 * A preload (`node --require …/record-modules.js`) that records every script
 * the process compiles and, at exit, writes their URLs as a JSON array to the
 * file named by `RECORD_MODULES_ENV`. Without that variable it does nothing,
 * so importing this file for the constant is harmless.
 *
 * The inspector's `scriptParsed` events see ES modules too; `require.cache`
 * alone misses them (inversify and its @inversifyjs/* graph are ESM).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { pathToFileURL } from 'node:url';

export const RECORD_MODULES_ENV = 'DIONYSUS_RECORD_MODULES';

const out = process.env[RECORD_MODULES_ENV];
// Processes this one starts are not recorded (nor overwrite the record).
delete process.env[RECORD_MODULES_ENV];

if (out) {
  const urls = new Set<string>();
  try {
    const session = new Session();
    session.connect();
    session.on('Debugger.scriptParsed', ({ params }) => {
      if (params.url) urls.add(params.url);
    });
    session.post('Debugger.enable');
  } catch {
    // a node built without the inspector: require.cache below still sees CommonJS
  }
  process.on('exit', () => {
    for (const file of Object.keys(require.cache)) urls.add(pathToFileURL(file).href);
    writeFileSync(out, JSON.stringify([...urls]));
  });
}
