import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import { GreeterClient, type HelloReply } from '../../proto/gen/helloworld/helloworld.js';
import { type Child, type Exit, killChildren, ROOT, run, SAMPLE } from '../integration/child.js';
import { parseExposition } from '../telemetry/exposition.js';
import { logLines, messagesAmong, waitForLog, withoutShellConfig } from '../telemetry/log-lines.js';
import { OtlpGrpcReceiver, OtlpReceiver } from '../telemetry/otlp-receiver.js';
import { shipExecutable, tempFolders } from './executable.js';

// The reference app as a single executable (esbuild bundle + Node SEA), run the way a container runs it:
// copied alone into an empty directory with no node_modules above it, NODE_PATH unset and HOME there too,
// so any module it failed to bundle cannot be found on disk and the command fails.
describe('the single executable of the sample app', () => {
  let home: string;
  let app: string;
  const { temp, removeAll } = tempFolders();

  before(async function () {
    this.timeout(120_000);
    home = temp('exe');
    ({ app } = await shipExecutable(SAMPLE, home));
    // Its todos' database is a SQLite file by default: better-sqlite3's addon ships beside the executable.
    expect(existsSync(join(home, 'native', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).to.be.true;
  });

  after(removeAll);

  afterEach(killChildren);

  /** Starts the executable from its own directory (or `cwd`), with nothing from the shell that changes what it does. */
  const exe = (args: readonly string[], env: Record<string, string> = {}, cwd = home): Child =>
    run(app, args, { cwd, env: { ...withoutShellConfig(), NODE_PATH: undefined, HOME: home, ...env } });

  const probe = (name: string, runtimeDir: string): Promise<Exit> =>
    exe([name], { DIONYSUS_RUNTIME_DIR: runtimeDir }).waitForExit();

  const expectProbes = async (runtimeDir: string, code: 0 | 1): Promise<void> => {
    for (const name of ['startup', 'liveness', 'readiness']) {
      const exit = await probe(name, runtimeDir);
      expect(exit.code, `${name}: ${exit.stdout}${exit.stderr}`).to.equal(code);
    }
  };

  /** The port a server of the child logged it listens on. */
  const portOf = async (child: Child, server: 'http' | 'grpc' | 'admin'): Promise<number> => {
    const line = await waitForLog(
      child,
      (l) => l.msg.startsWith(`${server} server listening`),
      `the ${server} server listening`,
      10_000,
    );
    return (line[server] as { port: number }).port;
  };

  const running = (child: Child): Promise<unknown> =>
    waitForLog(child, (l) => l.msg === 'state running', 'state running', 10_000);

  it('prints usage listing every command with --help', async () => {
    const exit = await exe(['--help']).waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    for (const command of ['http', 'grpc', 'ctl', 'greet', 'startup', 'liveness', 'readiness', 'manifest']) {
      expect(exit.stdout).to.include(`app ${command}`);
    }
  });

  it('prints the version of package.json with --version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const exit = await exe(['--version']).waitForExit();
    expect(exit.code).to.equal(0);
    expect(exit.stdout.trim()).to.equal(version);
  });

  it('runs the greet task through its hooks in order and exits 0', async () => {
    const exit = await exe(['greet', '--name', 'x']).waitForExit();
    expect(exit.stdout).to.equal('hello x\n');
    const said = ['resources opened', 'greeting prepared', 'greeting done', 'resources released'];
    expect(messagesAmong(logLines(exit.stderr), said)).to.deep.equal(said);
    expect(exit.errorText).to.equal('');
    expect(exit.code).to.equal(0);
  });

  it('prints the same manifest as the compiled app', async () => {
    const exit = await exe(['manifest', 'http']).waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.stdout).to.equal(readFileSync(join(ROOT, 'samples', 'app', 'deploy', 'http.json'), 'utf8'));
  });

  it('serves http with the framework metrics, passes the exec probes, and fails them once stopped', async () => {
    const runtimeDir = temp('run');
    const child = exe(['http'], {
      HTTP_PORT: '0',
      ADMIN_PORT: '0',
      DIONYSUS_RUNTIME_DIR: runtimeDir,
      // Long enough to ask the probes while the server drains.
      NODE_CONFIG: JSON.stringify({ dionysus: { shutdown: { drainDelayMs: 1500 } } }),
    });
    const [http, admin] = [await portOf(child, 'http'), await portOf(child, 'admin')];
    await running(child);

    const hello = await fetch(`http://127.0.0.1:${http}/hello?name=x`);
    expect(hello.status).to.equal(200);
    expect(await hello.json()).to.deep.equal({ message: 'hello x' });
    const metrics = parseExposition(await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text());
    const requests = metrics.get('http_server_request_duration_seconds')?.samples ?? [];
    expect(requests.some((s) => s.labels.route === '/hello' && s.labels.status_code === '200')).to.be.true;
    const hooks = metrics.get('dionysus_lifecycle_hook_duration_seconds')?.samples ?? [];
    expect(hooks.some((s) => s.labels.hook === 'App.openResources')).to.be.true;
    await expectProbes(runtimeDir, 0);

    child.signal('SIGTERM');
    await waitForLog(child, (l) => l.state === 'stopping', 'state stopping');
    const draining = await probe('readiness', runtimeDir);
    expect(draining.code).to.equal(1);
    expect(draining.stdout).to.equal('readiness failed: the command is shutting down\n');
    expect((await fetch(`http://127.0.0.1:${http}/healthx/readiness`)).status).to.equal(503);
    const exit = await child.waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    await expectProbes(runtimeDir, 1);
  });

  it('serves grpc: SayHello answers and the readiness probe passes', async () => {
    const runtimeDir = temp('run');
    const child = exe(['grpc'], { GRPC_PORT: '0', ADMIN_PORT: '0', DIONYSUS_RUNTIME_DIR: runtimeDir });
    const port = await portOf(child, 'grpc');
    await running(child);
    const greeter = new GreeterClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const reply = await new Promise<HelloReply>((resolve, reject) =>
        greeter.sayHello({ name: 'x' }, (error, value) => (error ? reject(error) : resolve(value))),
      );
      expect(reply.message).to.equal('hello x');
    } finally {
      greeter.close();
    }
    const readiness = await probe('readiness', runtimeDir);
    expect(readiness.code, readiness.stdout).to.equal(0);
    child.signal('SIGTERM');
    expect((await child.waitForExit()).code).to.equal(0);
  });

  it('runs the ctl loop: the exec probes pass and SIGTERM stops it with exit 0', async () => {
    const runtimeDir = temp('run');
    const child = exe(['ctl'], { ADMIN_PORT: '0', DIONYSUS_RUNTIME_DIR: runtimeDir });
    await running(child);
    await expectProbes(runtimeDir, 0);
    child.signal('SIGTERM');
    const exit = await child.waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    expect(messagesAmong(logLines(exit.stdout), ['taking no new work'])).to.deep.equal(['taking no new work']);
  });

  it('reads config/default.json from the working directory', async () => {
    const cwd = temp('cwd');
    mkdirSync(join(cwd, 'config'));
    writeFileSync(join(cwd, 'config', 'default.json'), JSON.stringify({ dionysus: { log: { level: 'warn' } } }));
    const exit = await exe(['greet', '--name', 'x'], {}, cwd).waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.lines).to.include('hello x');
    // The level applies from the first line: the logger step's own line waits for the config step.
    const info = logLines(exit.stderr).filter((l) => l.level === 'info');
    expect(info.map((l) => l.msg)).to.deep.equal([]);
  });

  it('fails on a bad value from NODE_CONFIG_DIR, naming the key and the file', async () => {
    const dir = temp('config');
    writeFileSync(join(dir, 'default.json'), JSON.stringify({ dionysus: { http: { port: 'abc' } } }));
    const exit = await exe(['greet', '--name', 'x'], { NODE_CONFIG_DIR: dir }).waitForExit();
    expect(exit.code).to.equal(1);
    expect(exit.stderr).to.include(`dionysus.http.port: "abc" is not a port number`);
    expect(exit.stderr).to.include(`(from ${join(dir, 'default.json')})`);
    expect(exit.lines).to.deep.equal([]);
  });

  describe('with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
    const receiver = new OtlpReceiver();
    let endpoint: string;
    before(async () => {
      endpoint = await receiver.start();
    });
    after(() => receiver.stop());

    it('exports a span per lifecycle hook of the greet task', async () => {
      const exit = await exe(['greet', '--name', 'x'], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }).waitForExit();
      expect(exit.code, exit.stderr).to.equal(0);
      expect(receiver.mistakes).to.deep.equal([]);
      const names = receiver.spans.map((s) => s.name);
      expect(names).to.include.members(['App.openResources', 'GreetCommand.prepare', 'GreetCommand.run']);
      expect(receiver.spans.every((s) => s.resource['service.name'] === 'app')).to.be.true;
    });

    it('exports over OTLP/gRPC too (the bundled SDK loads its gRPC exporter)', async () => {
      const grpcReceiver = new OtlpGrpcReceiver();
      const grpcEndpoint = await grpcReceiver.start();
      try {
        const exit = await exe(['greet', '--name', 'x'], {
          OTEL_EXPORTER_OTLP_ENDPOINT: grpcEndpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        }).waitForExit();
        expect(exit.code, exit.stderr).to.equal(0);
        expect(grpcReceiver.spans.map((s) => s.name)).to.include('GreetCommand.run');
      } finally {
        await grpcReceiver.stop();
      }
    });
  });

  it('takes a CPU profile on demand from the admin server, behind the control token', async () => {
    const token = 'exe-profile-token';
    const child = exe(['http'], {
      HTTP_PORT: '0',
      ADMIN_PORT: '0',
      DIONYSUS_CONTROL_TOKEN: token,
      DIONYSUS_RUNTIME_DIR: temp('profile-rt'),
    });
    const admin = await portOf(child, 'admin');
    await running(child);
    const res = await fetch(`http://127.0.0.1:${admin}/debug/profile?seconds=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).to.equal(200);
    const profile = (await res.json()) as { nodes: unknown[]; startTime: number; endTime: number };
    expect(profile.nodes.length).to.be.above(1);
    expect(profile.endTime - profile.startTime).to.be.at.least(900_000);
    child.signal('SIGTERM');
    expect((await child.waitForExit()).code).to.equal(0);
  });
});
