/**
 * Native addons in the single executable. A `.node` file cannot live inside
 * the executable (the system loader needs a file) and the executable's own
 * `require` loads only built-in modules, so the builder copies each addon the
 * bundle reaches into `native/` beside the executable, mirroring its path in
 * node_modules, and the bundle loads it from there with a real `require`.
 * Two ways of reaching an addon are understood:
 * - a `require` of the `.node` file itself, or of a package whose main is one
 *   (napi-rs platform packages);
 * - the `bindings` package (better-sqlite3 and most node-gyp addons), whose
 *   run-time search of the package folder is replaced by the file it finds now.
 * Loaders that choose a prebuilt file at run time (node-gyp-build,
 * node-pre-gyp) are not: the build warns, and requiring them throws, which a
 * package with a JavaScript fallback catches.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import type { Plugin } from 'esbuild';

/** The folder beside the executable that holds its native addons. */
export const NATIVE_DIR = 'native';

export interface NativeAddon {
  /** The package that owns it, e.g. `better-sqlite3`. */
  readonly owner: string;
  /** Where it is on disk at build time. */
  readonly source: string;
  /** Its path under `native/`, e.g. `better-sqlite3/build/Release/better_sqlite3.node`. */
  readonly file: string;
}

const LOADER = 'dionysus-native-loader';
const UNSUPPORTED = /^(node-gyp-build|node-gyp-build-optional-packages|@mapbox\/node-pre-gyp|node-pre-gyp)$/;

/**
 * The bundle's side: loads `native/<file>` beside the executable (beside the
 * bundle when it runs under plain node), with a message naming the addon and
 * the folder when the file was not shipped with it.
 */
const loaderSource = `
const { createRequire } = require('node:module');
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');
let dir;
function nativeDir() {
  if (dir === undefined) {
    let sea = false;
    try { sea = require('node:sea').isSea(); } catch {}
    dir = join(sea ? dirname(process.execPath) : __dirname, ${JSON.stringify(NATIVE_DIR)});
  }
  return dir;
}
exports.loadNative = function loadNative(file, owner) {
  const path = join(nativeDir(), file);
  if (!existsSync(path)) {
    throw new Error(owner + "'s native addon " + file + ' is missing: ' + path + ' does not exist; the ' + ${JSON.stringify(NATIVE_DIR)} + '/ folder the builder wrote beside the executable must ship with it');
  }
  return createRequire(path)(path);
};
`;

/**
 * The esbuild plugin, and the addons it found (filled while esbuild runs).
 * `addons` holds each file once, however many modules load it.
 */
export function nativeAddons(): { plugin: Plugin; addons: NativeAddon[] } {
  const addons: NativeAddon[] = [];
  const ship = (source: string): NativeAddon => {
    const found = addons.find((a) => a.source === source);
    if (found) return found;
    const { root, name } = packageOf(source);
    const addon = { owner: name, source, file: `${name}/${relative(root, source).split(sep).join('/')}` };
    addons.push(addon);
    return addon;
  };
  const plugin: Plugin = {
    name: 'dionysus-native-addons',
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${LOADER}$`) }, () => ({ path: LOADER, namespace: LOADER }));
      build.onLoad({ filter: /.*/, namespace: LOADER }, () => ({ contents: loaderSource, loader: 'js' }));

      // A `.node` file esbuild resolved, by a relative path or as a package's main.
      build.onLoad({ filter: /\.node$/ }, (args) => {
        const addon = ship(args.path);
        return {
          contents: `module.exports = require(${JSON.stringify(LOADER)}).loadNative(${JSON.stringify(addon.file)}, ${JSON.stringify(addon.owner)});`,
          loader: 'js',
        };
      });

      // Each module that requires `bindings` gets its own, knowing the files it asks for.
      build.onResolve({ filter: /^bindings$/ }, (args) => ({
        path: args.importer,
        namespace: 'dionysus-bindings',
      }));
      build.onLoad({ filter: /.*/, namespace: 'dionysus-bindings' }, (args) => {
        const importer = args.path;
        const { root, name: owner } = packageOf(importer);
        const names = bindingsNames(readFileSync(importer, 'utf8'));
        if (names.length === 0) {
          return {
            errors: [
              {
                text: `${owner}: ${importer} loads a native addon through 'bindings' without naming it in a string literal, so the builder cannot tell which .node file to ship`,
              },
            ],
          };
        }
        const bindings = createRequire(importer)('bindings') as (o: object) => string;
        const files: Record<string, string> = {};
        for (const file of names) {
          let source: string;
          try {
            source = bindings({ bindings: file, module_root: root, path: true });
          } catch (error) {
            return {
              errors: [
                { text: `${owner}: its native addon ${file} was not found (is it built?): ${firstLine(error)}` },
              ],
            };
          }
          files[file] = ship(source).file;
        }
        return {
          contents: `const { loadNative } = require(${JSON.stringify(LOADER)});
const files = ${JSON.stringify(files)};
module.exports = function bindings(opts) {
  let name = typeof opts === 'string' ? opts : (opts && opts.bindings) || 'bindings.node';
  if (!name.endsWith('.node')) name += '.node';
  const file = files[name];
  if (file === undefined) throw new Error(${JSON.stringify(owner)} + ' asked bindings for ' + name + ', which the builder did not ship (it shipped ' + Object.keys(files).join(', ') + ')');
  return loadNative(file, ${JSON.stringify(owner)});
};`,
          loader: 'js',
        };
      });

      build.onResolve({ filter: UNSUPPORTED }, (args) => ({
        path: args.path,
        namespace: 'dionysus-unsupported-native',
        pluginData: { importer: args.importer },
      }));
      build.onLoad({ filter: /.*/, namespace: 'dionysus-unsupported-native' }, (args) => {
        const importer = (args.pluginData as { importer: string }).importer;
        const message = `${packageOf(importer).name} loads its native addon through ${args.path}, which picks a file at run time; the single executable cannot ship it, and requiring ${args.path} throws there`;
        return {
          contents: `throw new Error(${JSON.stringify(message)});`,
          loader: 'js',
          warnings: [{ text: message }],
        };
      });
    },
  };
  return { plugin, addons };
}

/** The names a module passes to `bindings` as string literals: `require('bindings')('x.node')`, `bindings('x')`, `{ bindings: 'x' }`. */
export function bindingsNames(source: string): string[] {
  const names = new Set<string>();
  const patterns = [
    /require\(\s*['"]bindings['"]\s*\)\s*\(\s*['"]([^'"]+)['"]/g,
    /\bbindings\s*\(\s*['"]([^'"]+)['"]/g,
    /\bbindings\s*:\s*['"]([^'"]+)['"]/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      const name = match[1] as string;
      names.add(name.endsWith('.node') ? name : `${name}.node`);
    }
  }
  return [...names];
}

/** The nearest folder above `file` with a package.json that has a name, and that name. */
function packageOf(file: string): { root: string; name: string } {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
      if (typeof name === 'string' && name !== '') return { root: dir, name };
    }
    if (dirname(dir) === dir) return { root: dirname(file), name: 'app' };
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] as string;
}
