import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Exit, killChildren, node, ROOT, SAMPLE } from '../integration/child.js';
import { withoutShellConfig } from '../telemetry/log-lines.js';

/** What the specs read of a generated Deployment. */
interface Probe {
  readonly httpGet?: { path: string; port: string | number };
  readonly grpc?: { port: number; service: string };
  readonly exec?: { command: string[] };
  readonly periodSeconds: number;
  readonly failureThreshold: number;
}

interface Container {
  readonly name: string;
  readonly image: string;
  readonly command: string[];
  readonly args: string[];
  readonly ports: { name: string; containerPort: number }[];
  readonly startupProbe: Probe;
  readonly livenessProbe: Probe;
  readonly readinessProbe: Probe;
}

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly spec: {
    readonly replicas: number;
    readonly template: {
      readonly metadata: { annotations: Record<string, string> };
      readonly spec: { terminationGracePeriodSeconds: number; containers: Container[] };
    };
  };
}

const SERVERS = ['http', 'grpc', 'ctl'] as const;
const PROBES = ['startup', 'liveness', 'readiness'] as const;

/** kubernetes-models is ESM-only (no `require` export): loaded with import() from these CommonJS specs. */
async function validateDeployment(manifest: unknown): Promise<void> {
  const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
  new Deployment(manifest as ConstructorParameters<typeof Deployment>[0]).validate();
}

// `app manifest` as a user runs it: a process of the compiled sample (node-config reads its
// environment once per process), in a directory without config files, nothing from the shell.
describe('app manifest', () => {
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'dionysus-manifest-'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));
  afterEach(killChildren);

  const manifest = (args: readonly string[], env: Record<string, string> = {}): Promise<Exit> =>
    node(SAMPLE, ['manifest', ...args], { cwd, env: { ...withoutShellConfig(), ...env } }).waitForExit();

  const deployment = async (args: readonly string[], env?: Record<string, string>): Promise<Manifest> => {
    const exit = await manifest(args, env);
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.stderr).to.equal('');
    return JSON.parse(exit.stdout) as Manifest;
  };

  const containerOf = (m: Manifest): Container => {
    const [container, ...more] = m.spec.template.spec.containers;
    expect(more).to.deep.equal([]);
    return container as Container;
  };

  const shutdown = (timeoutMs: number, drainDelayMs: number): Record<string, string> => ({
    NODE_CONFIG: JSON.stringify({ dionysus: { shutdown: { timeoutMs, drainDelayMs } } }),
  });

  for (const command of SERVERS) {
    it(`prints a valid apps/v1 Deployment for ${command} with the Kubernetes defaults: 5 s drain in a 25 s budget, 30 s grace`, async () => {
      const m = await deployment([command]);
      await validateDeployment(m);
      expect([m.apiVersion, m.kind]).to.deep.equal(['apps/v1', 'Deployment']);
      const container = containerOf(m);
      expect(container.command).to.deep.equal(['/app/app']);
      expect(container.args).to.deep.equal([command]);
      expect(m.spec.template.spec.terminationGracePeriodSeconds).to.equal(30);
      expect(m.spec.template.metadata.annotations).to.include({
        'dionysus.dev/drain-delay-ms': '5000',
        'dionysus.dev/shutdown-budget-ms': '25000',
      });
    });

    it(`matches the committed samples/app/deploy/${command}.json`, async () => {
      const exit = await manifest([command]);
      expect(exit.code, exit.stderr).to.equal(0);
      const committed = readFileSync(join(ROOT, 'samples', 'app', 'deploy', `${command}.json`), 'utf8');
      expect(exit.stdout, `regenerate with npm run manifests`).to.equal(committed);
    });
  }

  it('is checked by a validator that rejects a malformed Deployment', async () => {
    const m = await deployment(['http']);
    const broken = { ...m, spec: { ...m.spec, replicas: 'two' } };
    let error: unknown;
    try {
      await validateDeployment(broken);
    } catch (caught) {
      error = caught;
    }
    expect(String(error)).to.match(/replicas/);
  });

  it('follows the configured budget: 40 s with an 8 s drain delay gives a 45 s grace period', async () => {
    const m = await deployment(['http'], shutdown(40_000, 8_000));
    await validateDeployment(m);
    expect(m.spec.template.spec.terminationGracePeriodSeconds).to.equal(45);
    expect(m.spec.template.metadata.annotations).to.include({
      'dionysus.dev/drain-delay-ms': '8000',
      'dionysus.dev/shutdown-budget-ms': '40000',
    });
  });

  it('probes http over httpGet /healthx on the named http port', async () => {
    const container = containerOf(await deployment(['http']));
    expect(container.ports.map((p) => [p.name, p.containerPort])).to.deep.equal([
      ['http', 8080],
      ['admin', 9464],
    ]);
    for (const probe of PROBES) {
      expect(container[`${probe}Probe`].httpGet).to.deep.equal({ path: `/healthx/${probe}`, port: 'http' });
    }
  });

  it('probes grpc with the native grpc probe, one health service name per probe', async () => {
    const container = containerOf(await deployment(['grpc']));
    for (const probe of PROBES) {
      expect(container[`${probe}Probe`].grpc).to.deep.equal({ port: 9090, service: probe });
    }
  });

  it('probes ctl with the executable: exec [binary, probe]', async () => {
    const container = containerOf(await deployment(['ctl']));
    for (const probe of PROBES) {
      expect(container[`${probe}Probe`]).to.not.have.any.keys('httpGet', 'grpc');
      expect(container[`${probe}Probe`].exec).to.deep.equal({ command: ['/app/app', probe] });
    }
  });

  it('uses exec probes of the given binary with --probes exec --binary', async () => {
    const m = await deployment(['http', '--probes', 'exec', '--binary', '/usr/local/bin/app']);
    await validateDeployment(m);
    const container = containerOf(m);
    expect(container.command).to.deep.equal(['/usr/local/bin/app']);
    for (const probe of PROBES) {
      expect(container[`${probe}Probe`].exec).to.deep.equal({ command: ['/usr/local/bin/app', probe] });
    }
  });

  it('takes --image, --replicas and a --grace-period the budget fits', async () => {
    const m = await deployment([
      'grpc',
      '--image',
      'registry.example/app:1.2.3',
      '--replicas',
      '3',
      '--grace-period',
      '60',
    ]);
    await validateDeployment(m);
    expect(containerOf(m).image).to.equal('registry.example/app:1.2.3');
    expect(m.spec.replicas).to.equal(3);
    expect(m.spec.template.spec.terminationGracePeriodSeconds).to.equal(60);
  });

  it('refuses a grace period the shutdown budget cannot fit, with the numbers', async () => {
    const exit = await manifest(['http', '--grace-period', '10']);
    expect(exit.code).to.equal(1);
    expect(exit.stdout).to.equal('');
    expect(exit.stderr).to.include('terminationGracePeriodSeconds 10 cannot fit the shutdown');
    expect(exit.stderr).to.include('25000 ms');
    expect(exit.stderr).to.include('= 30 s; raise --grace-period to 30');
  });

  it('refuses a drain delay that is not shorter than the budget', async () => {
    const exit = await manifest(['http'], shutdown(5_000, 5_000));
    expect(exit.code).to.equal(1);
    expect(exit.stdout).to.equal('');
    expect(exit.stderr).to.include('dionysus.shutdown.drainDelayMs (5000 ms) leaves no time to drain');
    expect(exit.stderr).to.include('dionysus.shutdown.timeoutMs (5000 ms)');
  });

  it('refuses ephemeral ports, which no probe can point at', async () => {
    const exit = await manifest(['http'], { HTTP_PORT: '0' });
    expect(exit.code).to.equal(1);
    expect(exit.stderr).to.include('dionysus.http.port is 0 (an ephemeral port)');
  });

  it('refuses a task: greet runs to completion', async () => {
    const exit = await manifest(['greet']);
    expect(exit.code).to.equal(1);
    expect(exit.stdout).to.equal('');
    expect(exit.stderr).to.equal(
      'greet is a task (it runs to completion): a Deployment runs http, grpc or ctl commands\n',
    );
  });

  it('refuses an unknown command, offering the server commands', async () => {
    const exit = await manifest(['nope']);
    expect(exit.code).to.equal(1);
    expect(exit.stderr).to.equal('no command "nope"; choose one of http, grpc, ctl\n');
  });
});
