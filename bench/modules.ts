/**
 * What a node command loads: packages, builtins and the project's own files.
 * It makes regressions such as `app --help` loading koa, pino, grpc-js or
 * OpenTelemetry visible (spec/integration/help-modules.spec.ts guards them).
 *
 *   node dist/bench/modules.js                  # the sample's `--help`
 *   node dist/bench/modules.js <node args…>     # e.g. dist/samples/app/main.js greet --name x
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEnv, REPO_ROOT } from './harness.js';
import { RECORD_MODULES_ENV } from './record-modules.js';

const PRELOAD = join(__dirname, 'record-modules.js');

/** The sample's `--help`, as node arguments run from the repository root. */
export const SAMPLE_HELP: readonly string[] = ['dist/samples/app/main.js', '--help'];

export interface LoadedModules {
  /** Package name → how many of its files were compiled. */
  readonly packages: ReadonlyMap<string, number>;
  /** Public builtins such as `node:http` (neither `node:internal/…` nor `node:_…`). */
  readonly builtins: ReadonlySet<string>;
  /** Files outside node_modules, relative to the working directory. */
  readonly ownFiles: readonly string[];
}

/**
 * Runs `node <nodeArgs…>` once under the recording preload; the command must
 * exit with `exitCode` (0, or e.g. 1 for a probe with no command running).
 */
export function loadedModules(
  nodeArgs: readonly string[],
  cwd: string = REPO_ROOT,
  { exitCode = 0, env = {} }: { exitCode?: number; env?: NodeJS.ProcessEnv } = {},
): LoadedModules {
  const dir = mkdtempSync(join(tmpdir(), 'dionysus-modules-'));
  const out = join(dir, 'modules.json');
  try {
    const result = spawnSync(process.execPath, ['--require', PRELOAD, ...nodeArgs], {
      cwd,
      env: benchEnv({ ...env, [RECORD_MODULES_ENV]: out }),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (result.error || result.status !== exitCode) {
      const why = result.error?.message ?? `exit code ${result.status ?? result.signal}`;
      throw new Error(`node ${nodeArgs.join(' ')} failed: ${why}\n${result.stderr}`);
    }
    return classify(JSON.parse(readFileSync(out, 'utf8')) as string[], cwd);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function classify(urls: readonly string[], cwd: string): LoadedModules {
  const packages = new Map<string, number>();
  const builtins = new Set<string>();
  const ownFiles: string[] = [];
  for (const url of urls) {
    if (url.startsWith('node:')) {
      if (!url.startsWith('node:internal/') && !url.startsWith('node:_')) builtins.add(url);
      continue;
    }
    if (!url.startsWith('file:')) continue; // `-e` code, wrappers
    const file = fileURLToPath(url);
    if (file === PRELOAD) continue;
    const name = packageOf(file);
    if (name) packages.set(name, (packages.get(name) ?? 0) + 1);
    else ownFiles.push(relative(cwd, file));
  }
  return { packages: new Map([...packages].sort(([a], [b]) => a.localeCompare(b))), builtins, ownFiles };
}

/** The package a file belongs to: the segment(s) after its last `node_modules`. */
export function packageOf(file: string): string | undefined {
  const parts = file.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0 || at + 1 >= parts.length) return undefined;
  const name = parts[at + 1]!;
  return name.startsWith('@') ? `${name}/${parts[at + 2]}` : name;
}

/** One-line summaries for bench output; builtins are those beyond `node -e 0`'s. */
export function describeModules(what: string, loaded: LoadedModules, bare: LoadedModules): string[] {
  const packages = [...loaded.packages].map(([name, files]) => `${name} (${files})`);
  const extra = [...loaded.builtins].filter((b) => !bare.builtins.has(b));
  return [
    `${what} loads ${loaded.packages.size} packages (files): ${packages.join(', ') || 'none'}`,
    `${what} loads builtins beyond node -e 0: ${extra.join(', ') || 'none'}`,
    `${what} loads ${loaded.ownFiles.length} project files`,
  ];
}

if (require.main === module) {
  const args = process.argv.length > 2 ? process.argv.slice(2) : SAMPLE_HELP;
  const loaded = loadedModules(args, process.argv.length > 2 ? process.cwd() : REPO_ROOT);
  const bare = loadedModules(['-e', '0']);
  const what = `node ${args.join(' ')}`;
  console.log(describeModules(what, loaded, bare).slice(0, 2).join('\n'));
  console.log(`${what} loads ${loaded.ownFiles.length} project files:\n  ${loaded.ownFiles.join('\n  ')}`);
}
