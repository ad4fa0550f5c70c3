#!/usr/bin/env node
// dionysus-proto: TypeScript for an app's .proto files, lazy-loading as the framework expects.
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { CodegenError, generate } from './codegen.js';

const USAGE = `Usage: dionysus-proto <dir|file.proto>... --out <dir>

Generates TypeScript for every .proto (directories are searched recursively)
with ts-proto (grpc-js services) and the protoc of the npm \`protoc\` package.
Client constructors and codecs load on first use, so importing a service
definition loads no @grpc/grpc-js. The output directory is replaced once
generation succeeds.

Options:
  --out <dir>   where the .ts files go (required)
  -h, --help    this text`;

function main(argv: string[]): number {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return fail(new CodegenError('usage', (error as Error).message));
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!parsed.values.out) return fail(new CodegenError('usage', '--out <dir> is required'));
  try {
    const protos = generate({ inputs: parsed.positionals, out: parsed.values.out });
    console.log(`generated ${protos.length} proto files into ${relative(process.cwd(), parsed.values.out) || '.'}`);
    return 0;
  } catch (error) {
    return fail(error);
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
}

function fail(error: unknown): number {
  if (!(error instanceof CodegenError)) throw error;
  console.error(`dionysus-proto: ${error.message}`);
  if (error.kind === 'usage') {
    console.error(`\n${USAGE}`);
    return 2;
  }
  return 1;
}

process.exitCode = main(process.argv.slice(2));
