// Generates TypeScript for every .proto under proto/ into proto/gen/ with
// ts-proto (grpc-js services), using the protoc binary shipped by the npm
// `protoc` package: works offline on a fresh clone.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const out = join(here, 'gen');
const plugin = join(dirname(require.resolve('ts-proto/package.json')), 'protoc-gen-ts_proto');

const protos = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && path !== out) walk(path);
    else if (entry.name.endsWith('.proto')) protos.push(relative(here, path));
  }
};
walk(here);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(
  process.execPath,
  [
    require.resolve('protoc/protoc.cjs'),
    `--plugin=protoc-gen-ts_proto=${plugin}`,
    `--ts_proto_out=${out}`,
    '--ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true,importSuffix=.js,useOptionals=messages',
    `--proto_path=${here}`,
    ...protos,
  ],
  { stdio: 'inherit', cwd: here },
);
// ts-proto builds each client constructor when its file loads, which loads
// @grpc/grpc-js (~65 ms) for anyone importing a service definition, even
// `app --help`; its codecs load @bufbuild/protobuf (~6 ms) the same way.
// Build client constructors and load the wire codecs on first use instead.
writeFileSync(
  join(out, 'lazy-client.ts'),
  `// Written by proto/generate.mjs: client constructors and wire codecs loaded on first use.
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
`,
);
const generated = [];
const collect = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) collect(path);
    else if (entry.name.endsWith('.ts') && entry.name !== 'lazy-client.ts') generated.push(path);
  }
};
collect(out);
for (const file of generated) {
  let text = readFileSync(file, 'utf8');
  const lazy = relative(dirname(file), join(out, 'lazy-client.js')).replace(/^(?!\.)/, './');
  const codecs = 'import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";';
  if (text.includes(codecs)) {
    text = text
      .replace(
        codecs,
        `import type { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";\nimport { wire } from "${lazy}";`,
      )
      .replaceAll('new BinaryWriter(', 'new (wire().BinaryWriter)(')
      .replaceAll('new BinaryReader(', 'new (wire().BinaryReader)(')
      .replaceAll('instanceof BinaryReader', 'instanceof wire().BinaryReader');
    if (/[^.]\bBinary(Reader|Writer)\(/.test(text.replace(/wire\(\)\.Binary/g, ''))) {
      throw new Error(`${file}: ts-proto's output changed; update the lazy codec rewrite in proto/generate.mjs`);
    }
  }
  if (!text.includes('makeGenericClientConstructor(')) {
    writeFileSync(file, text);
    continue;
  }
  text = text
    .replace(/^ {2}makeGenericClientConstructor,\n/m, '')
    .replaceAll('makeGenericClientConstructor(', 'lazyClientConstructor(')
    .replace(/^(import \{[^}]*\} from "@grpc\/grpc-js";)$/m, `$1\nimport { lazyClientConstructor } from "${lazy}";`);
  if (text.includes('makeGenericClientConstructor') || !text.includes('import { lazyClientConstructor }')) {
    throw new Error(`${file}: ts-proto's output changed; update the lazy client rewrite in proto/generate.mjs`);
  }
  writeFileSync(file, text);
}
console.log(`generated ${protos.length} proto files into ${relative(process.cwd(), out) || out}`);
