import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { expect } from 'chai';
import { loadedModules } from '../../bench/modules.js';
import { waitForLog, withoutShellConfig } from '../telemetry/log-lines.js';
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

/** An adopter's own .proto, importing a well-known type: nothing of this repository's proto/ folder. */
const SHOP_PROTO = `syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";

service Shop {
  rpc Price(PriceRequest) returns (PriceReply);
}
message PriceRequest { string sku = 1; }
message PriceReply { string sku = 1; int64 cents = 2; google.protobuf.Timestamp at = 3; }
`;

/** The adopter's app: a grpc command serving the generated service. */
const SHOP_APP = `import type { ServerUnaryCall } from '@grpc/grpc-js';
import { Command, GrpcService, Main } from 'dionysus';
import { type PriceReply, type PriceRequest, ShopService } from './gen/shop/v1/shop.js';

@GrpcService(ShopService)
export class ShopGrpc {
  async price(call: ServerUnaryCall<PriceRequest, PriceReply>): Promise<PriceReply> {
    return { sku: call.request.sku, cents: 1250, at: new Date(0) };
  }
}

@Command('grpc', { description: 'Serve the shop', services: [ShopGrpc] })
export class GrpcCommand {}

@Main({ name: 'shop', commands: [GrpcCommand] })
export class ShopApp {}
`;

/** The adopter's entry, as the README writes it: probes and --help before the app graph. */
const SHOP_MAIN = `import { launch } from 'dionysus/launch';

launch(() => require('./app.js'));
`;

/** A client through the generated (lazy) client constructor and the package's own health client. */
const SHOP_CLIENT = `import { credentials } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from 'dionysus/grpc';
import { ShopClient } from './gen/shop/v1/shop.js';

const [address = ''] = process.argv.slice(2);
const shop = new ShopClient(address, credentials.createInsecure());
const health = new HealthClient(address, credentials.createInsecure());
health.check({ service: '' }, (error, reply) => {
  if (error) throw error;
  console.log(\`health \${HealthCheckResponse_ServingStatus[reply.status]}\`);
  shop.price({ sku: 'tea' }, (error, reply) => {
    if (error) throw error;
    console.log(\`price \${reply.sku} \${reply.cents} \${reply.at?.toISOString()}\`);
    shop.close();
    health.close();
  });
});
`;

const REPO = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

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
      'dist/lib/grpc/clients.d.ts',
      'dist/lib/proto/cli.js',
    ]);
    const stray = paths.filter((p) => /^(lib|decorators|spec|samples|bench)\//.test(p) || p.startsWith('dist/spec/'));
    expect(stray).to.deep.equal([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).to.deep.equal([]);
  });

  // One pack per run: both projects install the same tarball.
  let tarball: Promise<string> | undefined;
  const packOnce = (): Promise<string> => {
    tarball ??= (async () => {
      const packDir = temp('dionysus-pack-');
      return join(packDir, packed(await npm(['pack', '--json', '--pack-destination', packDir], ROOT)).filename);
    })();
    return tarball;
  };

  /** A TypeScript project with `src/` compiled to `out/`, the tarball installed with `deps`. */
  const freshProject = async (name: string, deps: readonly string[]): Promise<string> => {
    const project = temp(`dionysus-${name}-`);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
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
    await npm(['install', ...NPM_FLAGS, await packOnce(), ...deps], project);
    mkdirSync(join(project, 'src'));
    return project;
  };

  // The repo's own compiler, so the fresh project downloads no typescript.
  const compile = async (project: string): Promise<void> => {
    const tsc = await node(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', project], { cwd: project }).waitForExit(
      60_000,
    );
    expect(tsc.code, tsc.stdout + tsc.stderr).to.equal(0);
  };

  it('installs from its tarball into a fresh TypeScript project that compiles and runs', async function () {
    this.timeout(180_000);
    const project = await freshProject('fresh', [`@types/node@${REPO.devDependencies['@types/node']}`]);
    // Resolved from inside the project (not from here: this spec is in the package and would self-resolve).
    const resolved = await run(process.execPath, ['-p', "require.resolve('dionysus/testing')"], {
      cwd: project,
    }).waitForExit();
    const installed = realpathSync(resolved.stdout.trim());
    expect(installed.startsWith(join(project, 'node_modules', 'dionysus') + sep), installed).to.equal(true);

    writeFileSync(join(project, 'src', 'main.ts'), APP_SOURCE);
    await compile(project);

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

  it("generates an adopter's .proto with npx dionysus-proto into lazy code that --help never loads, and serves it", async function () {
    this.timeout(240_000);
    const versions = REPO.devDependencies;
    const project = await freshProject('shop', [
      `@types/node@${versions['@types/node']}`,
      `@grpc/grpc-js@${versions['@grpc/grpc-js']}`,
      `ts-proto@${versions['ts-proto']}`,
      `protoc@${versions.protoc}`,
    ]);
    mkdirSync(join(project, 'proto', 'shop', 'v1'), { recursive: true });
    writeFileSync(join(project, 'proto', 'shop', 'v1', 'shop.proto'), SHOP_PROTO);
    const generated = await run('npx', ['--offline', '--no-install', 'dionysus-proto', 'proto', '--out', 'src/gen'], {
      cwd: project,
    }).waitForExit(60_000);
    expect(generated.code, generated.stdout + generated.stderr).to.equal(0);
    expect(generated.lines).to.deep.equal(['generated 1 proto files into src/gen']);

    writeFileSync(join(project, 'src', 'app.ts'), SHOP_APP);
    writeFileSync(join(project, 'src', 'main.ts'), SHOP_MAIN);
    writeFileSync(join(project, 'src', 'client.ts'), SHOP_CLIENT);
    await compile(project);

    const help = loadedModules(['out/main.js', '--help'], project);
    expect([...help.packages.keys()], 'the recorder sees what --help needs').to.include('clipanion');
    const heavy = [...help.packages.keys()].filter((name) => ['@grpc/grpc-js', '@bufbuild/protobuf'].includes(name));
    expect(heavy).to.deep.equal([]);

    const server = node(join(project, 'out', 'main.js'), ['grpc'], {
      cwd: project,
      env: {
        ...withoutShellConfig(),
        GRPC_PORT: '0',
        ADMIN_PORT: '0',
        DIONYSUS_RUNTIME_DIR: temp('dionysus-shop-run-'),
      },
    });
    const listening = await waitForLog(
      server,
      (line) => typeof (line.grpc as { port?: unknown } | undefined)?.port === 'number',
      'the grpc server to listen',
    );
    const address = `127.0.0.1:${(listening.grpc as { port: number }).port}`;
    const client = await node(join(project, 'out', 'client.js'), [address], { cwd: project }).waitForExit(20_000);
    expect(client.lines, client.stderr).to.deep.equal(['health SERVING', 'price tea 1250 1970-01-01T00:00:00.000Z']);
    expect(client.code, client.stderr).to.equal(0);
    server.signal('SIGTERM');
    expect((await server.waitForExit(20_000)).code).to.equal(0);

    // Misuse says what is wrong: usage errors exit 2, generation failures 1 naming the file.
    const bin = join(project, 'node_modules', '.bin', 'dionysus-proto');
    mkdirSync(join(project, 'empty'));
    const empty = await run(bin, ['empty', '--out', 'src/none'], { cwd: project }).waitForExit(20_000);
    expect([empty.code, empty.stderr.split('\n')[0]]).to.deep.equal([
      2,
      'dionysus-proto: no .proto files found in empty',
    ]);
    const noOut = await run(bin, ['proto'], { cwd: project }).waitForExit(20_000);
    expect([noOut.code, noOut.stderr.split('\n')[0]]).to.deep.equal([2, 'dionysus-proto: --out <dir> is required']);
    writeFileSync(join(project, 'proto', 'shop', 'v1', 'broken.proto'), 'syntax = "proto3";\nmessage {\n');
    const broken = await run(bin, ['proto', '--out', 'src/gen'], { cwd: project }).waitForExit(20_000);
    expect(broken.code, broken.stderr).to.equal(1);
    expect(broken.stderr).to.match(/^dionysus-proto: protoc failed/);
    expect(broken.stderr).to.include('shop/v1/broken.proto:2:');
  });
});
