import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { expect } from 'chai';
import { killChildren, node, ROOT, run } from './child.js';
import { USER_COMPILER_OPTIONS } from './user-project.js';

/** What `npm pack --json` says about one tarball. */
interface Packed {
  filename: string;
  files: { path: string }[];
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** A fresh project's app: the public surface a user reaches for first. */
const APP_SOURCE = `import { bootstrap, Command, Main, Option, PostRun, PreRun, Run } from 'dionysus';
import { runCommand } from 'dionysus/testing';

@Command('hello', { description: 'Say hello' })
class HelloCommand {
  @Option('--name', { required: true })
  name!: string;

  @PreRun()
  prepare(): void {
    console.log('prerun');
  }

  @Run()
  run(signal: AbortSignal): void {
    console.log(\`hello \${this.name}\${signal.aborted ? ' (aborted)' : ''}\`);
  }

  @PostRun()
  finish(): void {
    console.log('postrun');
  }
}

@Main({ name: 'fresh', commands: [HelloCommand] })
export class FreshApp {}

async function main(): Promise<void> {
  const { exitCode } = await runCommand(FreshApp, ['hello', '--name', 'test']);
  console.log(\`runCommand exit \${exitCode}\`);
  const code: number = await bootstrap(FreshApp);
  process.exit(code);
}

void main();
`;

async function npm(args: readonly string[], cwd: string): Promise<string> {
  const exit = await run('npm', args, { cwd }).waitForExit(90_000);
  if (exit.code !== 0) throw new Error(`npm ${args.join(' ')} failed (${exit.code}):\n${exit.stdout}${exit.stderr}`);
  return exit.stdout;
}

function packed(stdout: string): Packed {
  // npm prints a JSON array of one entry per packed package.
  const [entry] = JSON.parse(stdout) as Packed[];
  if (!entry) throw new Error(`npm pack printed no package:\n${stdout}`);
  return entry;
}

describe('the npm package', () => {
  const temps: string[] = [];
  const temp = (prefix: string): string => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
    temps.push(dir);
    return dir;
  };

  afterEach(killChildren);
  after(() => {
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  });

  it('packs the compiled library with its types and no sources, specs or samples', async () => {
    const { files } = packed(await npm(['pack', '--dry-run', '--json', '--loglevel=error'], ROOT));
    const paths = files.map((f) => f.path);
    expect(paths).to.include.members([
      'package.json',
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/lib/launch.d.ts',
      'dist/lib/testing/index.d.ts',
      'dist/decorators/index.d.ts',
    ]);
    const stray = paths.filter((p) => /^(lib|decorators|spec|samples|bench)\//.test(p) || p.startsWith('dist/spec/'));
    expect(stray).to.deep.equal([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).to.deep.equal([]);
  });

  it('installs from its tarball into a fresh TypeScript project that compiles and runs', async function () {
    this.timeout(180_000);
    const packDir = temp('dionysus-pack-');
    const project = temp('dionysus-fresh-');
    const tarball = join(packDir, packed(await npm(['pack', '--json', '--pack-destination', packDir], ROOT)).filename);

    const repo = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'fresh', version: '1.0.0', private: true }));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...USER_COMPILER_OPTIONS,
          rootDir: 'src',
          outDir: 'out',
          types: ['node'],
          noEmitOnError: true,
        },
        include: ['src'],
      }),
    );
    await npm(['install', ...NPM_FLAGS, tarball, `@types/node@${repo.devDependencies['@types/node']}`], project);
    // Resolved from inside the project (not from here: this spec is in the package and would self-resolve).
    const resolved = await run(process.execPath, ['-p', "require.resolve('dionysus/testing')"], {
      cwd: project,
    }).waitForExit();
    const installed = realpathSync(resolved.stdout.trim());
    expect(installed.startsWith(join(project, 'node_modules', 'dionysus') + sep), installed).to.equal(true);

    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'src', 'main.ts'), APP_SOURCE);

    // The repo's own compiler, so the fresh project downloads no typescript.
    const tsc = await node(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: project }).waitForExit(
      60_000,
    );
    expect(tsc.code, tsc.stdout + tsc.stderr).to.equal(0);

    const exit = await node(join(project, 'out', 'main.js'), ['hello', '--name', 'world'], {
      cwd: project,
    }).waitForExit();
    expect(exit.lines).to.deep.equal([
      'prerun',
      'hello test',
      'postrun',
      'runCommand exit 0',
      'prerun',
      'hello world',
      'postrun',
    ]);
    expect(exit.code, exit.stderr).to.equal(0);
  });
});
