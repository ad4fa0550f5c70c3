#!/usr/bin/env node
/**
 * `dionysus-build-binary <entry.js> [--out dist/bin/app]`: turns an app's
 * compiled entry (tsc output: bundling the .ts directly would lose decorator
 * metadata) into one bundled file (esbuild) and then a Node single
 * executable (SEA, with code cache). The executable reads nothing from
 * node_modules at run time; configuration still loads from config/*.json
 * (NODE_CONFIG_DIR), so only JSON config files work. Native addons the
 * bundle reaches are copied into `native/` beside the executable, which must
 * ship with it (./native.ts).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { appVersion } from '../cli/version.js';
import { NATIVE_DIR, type NativeAddon, nativeAddons } from './native.js';

/** The fuse node looks for to find an injected blob (see Node's single-executable-applications docs). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface BuildOptions {
  /** The app's compiled entry, e.g. dist/main.js (the file that calls `launch`). */
  entry: string;
  /** Where the executable goes. @default 'dist/bin/app' */
  out?: string;
  /** Printed by `--version`; the nearest package.json's version by default. */
  version?: string;
  log?: (line: string) => void;
}

export interface Built {
  path: string;
  bytes: number;
  /** The native addons copied into `native/` beside the executable (empty: the executable is all there is). */
  native: string[];
}

export async function buildBinary(options: BuildOptions): Promise<Built> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const entry = resolve(options.entry);
  const out = resolve(options.out ?? 'dist/bin/app');
  const work = `${out}.build`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const bundle = join(work, 'app.cjs');
  const version = options.version ?? appVersion(undefined, entry) ?? '0.0.0';
  const { modules, addons } = await bundleApp(entry, bundle, { version });
  log(`bundled ${entry} into ${bundle} (${kib(statSync(bundle).size)}, ${modules} modules)`);

  const config = join(work, 'sea-config.json');
  const blob = join(work, 'app.blob');
  writeFileSync(
    config,
    JSON.stringify({ main: bundle, output: blob, useCodeCache: true, disableExperimentalSEAWarning: true }),
  );
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'pipe'] });

  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  copyFileSync(process.execPath, out);
  chmodSync(out, 0o755);
  const postject = resolveTool('postject', 'postject/dist/cli.js');
  // postject warns about ELF note sections it does not need; only its failure matters.
  execFileSync(process.execPath, [postject, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const native = shipAddons(addons, dirname(out));
  for (const file of native) log(`shipped native addon ${file}: it must stay beside the executable`);
  const bytes = statSync(out).size;
  log(`wrote ${out} (${(bytes / 1024 / 1024).toFixed(1)} MiB, version ${version})`);
  return { path: out, bytes, native };
}

/**
 * Bundles `entry` into one CommonJS file; the native addons it reaches are
 * listed, for `shipAddons` to copy beside whatever runs the bundle.
 */
export async function bundleApp(
  entry: string,
  outfile: string,
  options: { version: string; logLevel?: 'warning' | 'silent' },
): Promise<{ modules: number; addons: NativeAddon[]; warnings: string[] }> {
  const esbuild = load<typeof import('esbuild')>('esbuild');
  const native = nativeAddons();
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    format: 'cjs',
    // Class and method names are part of every message (`Class.method`): keep them.
    keepNames: true,
    // A single executable has no dynamic-import callback: `import('http')` (the OTLP
    // exporter loads its transport so) rejects with ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING.
    // Lowered, it becomes a require of the built-in.
    supported: { 'dynamic-import': false },
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: options.logLevel ?? 'warning',
    define: { 'process.env.DIONYSUS_APP_VERSION': JSON.stringify(options.version) },
    metafile: true,
    plugins: [native.plugin],
  });
  return {
    modules: Object.keys(result.metafile.inputs).length,
    addons: native.addons,
    warnings: result.warnings.map((w) => w.text),
  };
}

/**
 * Copies the addons into `native/` under `dir`, at the paths the bundle loads
 * them from. Other files there stay: another executable built into the same
 * folder may load them. Returns the paths written, relative to `dir`.
 */
export function shipAddons(addons: readonly NativeAddon[], dir: string): string[] {
  const root = join(dir, NATIVE_DIR);
  return addons.map((addon) => {
    const target = join(root, addon.file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(addon.source, target);
    return `${NATIVE_DIR}/${addon.file}`;
  });
}

function load<T>(name: string): T {
  try {
    return require(name) as T;
  } catch {
    throw new Error(missing(name));
  }
}

function resolveTool(name: string, file: string): string {
  try {
    return require.resolve(file);
  } catch {
    throw new Error(missing(name));
  }
}

function missing(name: string): string {
  return `${name} is needed to build a binary: npm install --save-dev ${name}`;
}

function kib(bytes: number): string {
  return `${Math.round(bytes / 1024)} KiB`;
}

function usage(): never {
  process.stderr.write('usage: dionysus-build-binary <compiled entry.js> [--out dist/bin/app] [--version X]\n');
  process.exit(2);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const entry = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  const flag = (name: string): string | undefined => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  if (!entry) usage();
  const known = new Set(['--out', '--version']);
  for (const a of args) if (a.startsWith('--') && !known.has(a)) usage();
  buildBinary({
    entry,
    ...(flag('--out') ? { out: flag('--out') } : {}),
    ...(flag('--version') ? { version: flag('--version') } : {}),
  }).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
