import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { killChildren, node, ROOT } from './child.js';
import { USER_COMPILER_OPTIONS } from './user-project.js';

/** One ```ts block of the README, with what it needs from around it. */
interface Snippet {
  /** The README line of its opening fence. */
  readonly line: number;
  /** From a first line `// app.ts`: the file other snippets import (`./app.js`); else none. */
  readonly file: string | undefined;
  /** Declarations from a `<!-- snippet: … -->` comment right before it: what the prose leaves out (`Users`). */
  readonly prelude: string;
  readonly code: string;
}

/** The README's ```ts blocks. */
function readmeSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const fence = /(?:<!-- snippet:([\s\S]*?)-->\s*\n)?```ts\n([\s\S]*?)```/g;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) {
    const code = match[2] as string;
    const line = markdown.slice(0, match.index + match[0].indexOf('```ts')).split('\n').length;
    const file = /^\/\/ ([\w.-]+\.ts)\b/.exec(code)?.[1];
    snippets.push({ line, file, prelude: (match[1] ?? '').trim(), code });
  }
  return snippets;
}

// The README's TypeScript is what a new user copies first: every ```ts block
// must compile, as written, against the built package, with the user's own
// tsconfig settings (strict, decorators, nodenext) in a project of its own.
describe('the README', () => {
  let project: string;
  afterEach(killChildren);
  after(() => rmSync(project, { recursive: true, force: true }));

  it('has TypeScript snippets that all compile against the built package', async function () {
    this.timeout(120_000);
    const snippets = readmeSnippets(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(snippets.length, 'the README has ```ts blocks').to.be.above(5);

    project = realpathSync(mkdtempSync(join(tmpdir(), 'dionysus-readme-')));
    // The project depends on the package (linked, as `npm link` would) and finds the rest where the repo has it.
    const modules = join(project, 'node_modules');
    mkdirSync(modules);
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (!name.startsWith('.')) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
    }
    symlinkSync(ROOT, join(modules, 'dionysus'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'readme', private: true, type: 'module' }));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...USER_COMPILER_OPTIONS,
          rootDir: '.',
          types: ['node', 'mocha'],
          noEmit: true,
          skipLibCheck: true,
        },
        include: ['src'],
      }),
    );
    // Named snippets (`// app.ts`) sit in src/, where the others import them from (`../app.js` in src/test/);
    // the generated gRPC code is the repo's own proto/.
    mkdirSync(join(project, 'src', 'test'), { recursive: true });
    symlinkSync(join(ROOT, 'proto'), join(project, 'src', 'proto'));
    const where = new Map<string, Snippet>();
    for (const snippet of snippets) {
      const path = snippet.file ? join('src', snippet.file) : join('src', 'test', `line-${snippet.line}.ts`);
      where.set(path, snippet);
      writeFileSync(join(project, path), `${snippet.prelude}\n${snippet.code}`);
    }

    const tsc = await node(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: project }).waitForExit(
      100_000,
    );
    // tsc names `src/test/line-123.ts(4,5)`: say which README line that is.
    const errors = `${tsc.stdout}${tsc.stderr}`.replace(
      /^(src[\\/][\w./\\-]+\.ts)\((\d+),(\d+)\)/gm,
      (whole, path, row) => {
        const snippet = where.get(path.replace(/\\/g, '/'));
        if (!snippet) return whole;
        const preludeLines = snippet.prelude.split('\n').length;
        return `README.md:${snippet.line + Number(row) - preludeLines} (${whole})`;
      },
    );
    expect(tsc.code, errors).to.equal(0);
  });
});
