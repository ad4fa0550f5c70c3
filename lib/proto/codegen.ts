// Generates TypeScript for .proto files with ts-proto (grpc-js services) and
// the protoc binary of the npm `protoc` package, then makes the output lazy:
// ts-proto builds each client constructor when its file loads, which loads
// @grpc/grpc-js (~65 ms) for anyone importing a service definition, even
// `app --help`; its codecs load @bufbuild/protobuf (~6 ms) the same way.
// The rewrite builds client constructors and loads the codecs on first use.
// Plain node: modules only, so it runs before the rest of the build.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

/** The ts-proto options the framework's gRPC runner expects. */
export const TS_PROTO_OPTIONS =
  'outputServices=grpc-js,env=node,esModuleInterop=true,importSuffix=.js,useOptionals=messages';

/** Why generation stopped: `usage` (bad arguments, exit 2) or `failure` (exit 1). */
export class CodegenError extends Error {
  constructor(
    readonly kind: 'usage' | 'failure',
    message: string,
  ) {
    super(message);
    this.name = 'CodegenError';
  }
}

export interface GenerateOptions {
  /** Directories (searched recursively) and `.proto` files. */
  inputs: readonly string[];
  /** Output directory; replaced by the new output once generation succeeds. */
  out: string;
  /** Where relative paths start and the tools are looked up first. @default process.cwd() */
  cwd?: string;
}

interface Tools {
  protoc: string;
  plugin: string;
  include: string | undefined;
}

const LAZY_CLIENT = `// Written by dionysus-proto: client constructors and wire codecs loaded on first use.
import type { ServiceDefinition } from '@grpc/grpc-js';

let loadedWire: typeof import('@bufbuild/protobuf/wire') | undefined;
export function wire(): typeof import('@bufbuild/protobuf/wire') {
  return (loadedWire ??= require('@bufbuild/protobuf/wire') as typeof import('@bufbuild/protobuf/wire'));
}

export function lazyClientConstructor(definition: unknown, name: string): unknown {
  let built: (new (...args: unknown[]) => object) | undefined;
  const load = () =>
    (built ??= (require('@grpc/grpc-js') as typeof import('@grpc/grpc-js')).makeGenericClientConstructor(
      definition as ServiceDefinition,
      name,
    ) as unknown as new (...args: unknown[]) => object);
  return new Proxy(function client() {}, {
    construct: (_target, args) => new (load())(...args),
    get: (_target, key) => (load() as unknown as Record<string | symbol, unknown>)[key],
  });
}
`;

/** Generates every input's .proto files into `out`; resolves to the generated .proto paths. */
export function generate(options: GenerateOptions): string[] {
  const cwd = options.cwd ?? process.cwd();
  if (options.inputs.length === 0) throw new CodegenError('usage', 'no input: name a directory or .proto files');
  const out = resolve(cwd, options.out);
  const roots: string[] = [];
  const protos: string[] = [];
  for (const input of options.inputs) {
    const path = resolve(cwd, input);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) throw new CodegenError('usage', `${input}: no such file or directory`);
    if (stat.isDirectory()) {
      roots.push(path);
      protos.push(...findProtos(path, out));
    } else if (path.endsWith('.proto')) {
      roots.push(dirname(path));
      protos.push(path);
    } else {
      throw new CodegenError('usage', `${input}: not a directory or a .proto file`);
    }
  }
  if (protos.length === 0) throw new CodegenError('usage', `no .proto files found in ${options.inputs.join(', ')}`);
  const tools = findTools(cwd);

  // Into a fresh sibling first: a failed run leaves the previous output as it was.
  mkdirSync(dirname(out), { recursive: true });
  const next = mkdtempSync(`${out}.next-`);
  try {
    runProtoc(tools, roots, protos, next, cwd);
    makeLazy(next);
  } catch (error) {
    rmSync(next, { recursive: true, force: true });
    throw error;
  }
  rmSync(out, { recursive: true, force: true });
  renameSync(next, out);
  return protos;
}

function runProtoc(tools: Tools, roots: readonly string[], protos: readonly string[], out: string, cwd: string): void {
  const args = [
    tools.protoc,
    `--plugin=protoc-gen-ts_proto=${tools.plugin}`,
    `--ts_proto_out=${out}`,
    `--ts_proto_opt=${TS_PROTO_OPTIONS}`,
    ...[...new Set(roots)].map((root) => `--proto_path=${root}`),
    ...(tools.include ? [`--proto_path=${tools.include}`] : []),
    ...protos,
  ];
  const protoc = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (protoc.error) throw new CodegenError('failure', `protoc did not start: ${protoc.error.message}`);
  if (protoc.status !== 0) {
    // protoc names the file and line itself, relative to its --proto_path.
    throw new CodegenError(
      'failure',
      `protoc failed (exit ${protoc.status ?? protoc.signal}) on ${protos.map((p) => relative(cwd, p)).join(', ')}:\n${protoc.stderr.trim()}`,
    );
  }
}

function findProtos(dir: string, out: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== out && !path.startsWith(`${out}.next-`) && entry.name !== 'node_modules')
        found.push(...findProtos(path, out));
    } else if (entry.name.endsWith('.proto')) found.push(path);
  }
  return found;
}

/** protoc and ts-proto from the project first (its pinned versions), then next to this package. */
function findTools(cwd: string): Tools {
  const lookups = [createRequire(join(cwd, 'package.json')), createRequire(__filename)];
  const find = (id: string): string | undefined => {
    for (const lookup of lookups) {
      try {
        return lookup.resolve(id);
      } catch {}
    }
    return undefined;
  };
  const protoc = find('protoc/protoc.cjs');
  const tsProto = find('ts-proto/package.json');
  const missing = [!protoc && 'protoc', !tsProto && 'ts-proto'].filter(Boolean);
  if (!protoc || !tsProto) {
    throw new CodegenError('failure', `${missing.join(' and ')} not installed: npm install --save-dev protoc ts-proto`);
  }
  const include = join(dirname(protoc), 'include');
  return {
    protoc,
    plugin: join(dirname(tsProto), 'protoc-gen-ts_proto'),
    include: existsSync(include) ? include : undefined,
  };
}

function makeLazy(out: string): void {
  writeFileSync(join(out, 'lazy-client.ts'), LAZY_CLIENT);
  for (const file of generatedFiles(out)) {
    const lazy = relative(dirname(file), join(out, 'lazy-client.js')).replace(/^(?!\.)/, './');
    writeFileSync(file, lazyCodecs(lazyClients(readFileSync(file, 'utf8'), file, lazy), file, lazy));
  }
}

function generatedFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...generatedFiles(path));
    else if (entry.name.endsWith('.ts') && entry.name !== 'lazy-client.ts') found.push(path);
  }
  return found;
}

function lazyCodecs(text: string, file: string, lazy: string): string {
  const codecs = 'import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";';
  if (!text.includes(codecs)) return text;
  const rewritten = text
    .replace(
      codecs,
      `import type { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";\nimport { wire } from "${lazy}";`,
    )
    .replaceAll('new BinaryWriter(', 'new (wire().BinaryWriter)(')
    .replaceAll('new BinaryReader(', 'new (wire().BinaryReader)(')
    .replaceAll('instanceof BinaryReader', 'instanceof wire().BinaryReader');
  if (/[^.]\bBinary(Reader|Writer)\(/.test(rewritten.replace(/wire\(\)\.Binary/g, ''))) {
    throw new CodegenError('failure', `${file}: ts-proto's output changed; the lazy codec rewrite needs an update`);
  }
  return rewritten;
}

function lazyClients(text: string, file: string, lazy: string): string {
  if (!text.includes('makeGenericClientConstructor(')) return text;
  const rewritten = text
    .replace(/^ {2}makeGenericClientConstructor,\n/m, '')
    .replaceAll('makeGenericClientConstructor(', 'lazyClientConstructor(')
    .replace(/^(import \{[^}]*\} from "@grpc\/grpc-js";)$/m, `$1\nimport { lazyClientConstructor } from "${lazy}";`);
  if (rewritten.includes('makeGenericClientConstructor') || !rewritten.includes('import { lazyClientConstructor }')) {
    throw new CodegenError('failure', `${file}: ts-proto's output changed; the lazy client rewrite needs an update`);
  }
  return rewritten;
}
