import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Exit, killChildren, node, ROOT, SAMPLE } from '../integration/child.js';
import { withoutShellConfig } from '../telemetry/log-lines.js';
import { itemOf, type KubeList, validateBundle } from './kube-objects.js';

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

  const bundle = async (args: readonly string[], env?: Record<string, string>): Promise<KubeList> => {
    const exit = await manifest(args, env);
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.stderr).to.equal('');
    const list = JSON.parse(exit.stdout) as KubeList;
    expect([list.apiVersion, list.kind]).to.deep.equal(['v1', 'List']);
    return list;
  };

  const deployment = async (args: readonly string[], env?: Record<string, string>): Promise<Manifest> =>
    itemOf(await bundle(args, env), 'Deployment') as unknown as Manifest;

  const containerOf = (m: Manifest): Container => {
    const [container, ...more] = m.spec.template.spec.containers;
    expect(more).to.deep.equal([]);
    return container as Container;
  };

  const shutdown = (timeoutMs: number, drainDelayMs: number): Record<string, string> => ({
    NODE_CONFIG: JSON.stringify({ dionysus: { shutdown: { timeoutMs, drainDelayMs } } }),
  });

  for (const command of SERVERS) {
    it(`prints a valid apps/v1 Deployment for ${command} with the Kubernetes defaults: 5 s drain in a 25 s budget, 27 s grace (the budget plus a 2 s margin)`, async () => {
      const m = await deployment([command]);
      await validateDeployment(m);
      expect([m.apiVersion, m.kind]).to.deep.equal(['apps/v1', 'Deployment']);
      const container = containerOf(m);
      expect(container.command).to.deep.equal(['/app/app']);
      expect(container.args).to.deep.equal([command]);
      expect(m.spec.template.spec.terminationGracePeriodSeconds).to.equal(27);
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

  it('follows the configured budget: 40 s with an 8 s drain delay gives a 42 s grace period', async () => {
    const m = await deployment(['http'], shutdown(40_000, 8_000));
    await validateDeployment(m);
    expect(m.spec.template.spec.terminationGracePeriodSeconds).to.equal(42);
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
    expect(exit.stderr).to.include('= 27 s; raise --grace-period to 27');
  });

  it('refuses a hook deadline that cannot fit in the shutdown budget, naming the setting', async () => {
    // Inside Kubernetes the 5 s drain delay leaves 20 s of the default 25 s budget for the hooks.
    const exit = await manifest(['http'], {
      NODE_CONFIG: JSON.stringify({ dionysus: { hooks: { timeoutMs: 21_000 } } }),
    });
    expect(exit.code).to.equal(1);
    expect(exit.stdout).to.equal('');
    expect(exit.stderr).to.include(
      'dionysus.hooks.timeoutMs (21000 ms, from $NODE_CONFIG) cannot fit in the shutdown budget',
    );
    expect(exit.stderr).to.include('leaves 20000 ms after the drain delay of 5000 ms');
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

  describe('the bundle', () => {
    interface Pod {
      securityContext: Record<string, unknown>;
      volumes: { name: string; emptyDir?: object; configMap?: { name: string } }[];
      containers: (Container & {
        securityContext: Record<string, unknown>;
        volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
        resources: { requests: Record<string, string>; limits: Record<string, string> };
        env?: { name: string; value: string }[];
      })[];
    }
    const podOf = (list: KubeList): Pod =>
      (itemOf(list, 'Deployment') as unknown as { spec: { template: { spec: Pod } } }).spec.template.spec;

    for (const command of SERVERS) {
      it(`is a v1 List for ${command}: Deployment, Service and PodDisruptionBudget, each valid`, async () => {
        const list = await bundle([command]);
        await validateBundle(list);
        expect(list.items.map((i) => i.kind)).to.deep.equal(['Deployment', 'Service', 'PodDisruptionBudget']);
        const service = itemOf(list, 'Service') as unknown as {
          spec: { selector: object; ports: { name: string; port: number; targetPort: string }[] };
        };
        expect(service.spec.selector).to.deep.equal(itemOf(list, 'Deployment').metadata.labels);
        const expected = command === 'ctl' ? ['admin'] : [command, 'admin'];
        expect(service.spec.ports.map((p) => p.targetPort)).to.deep.equal(expected);
        expect((itemOf(list, 'PodDisruptionBudget') as unknown as { spec: object }).spec).to.include({
          maxUnavailable: 1,
        });
      });
    }

    it('runs the pod as non-root on a read-only root filesystem, the runtime directory on an emptyDir, with resources', async () => {
      const pod = podOf(await bundle(['http', '--cpu', '250m', '--memory', '512Mi']));
      expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 10001 });
      const [container] = pod.containers;
      expect(container?.securityContext).to.deep.equal({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(pod.volumes.find((v) => v.name === 'tmp')?.emptyDir).to.be.an('object');
      expect(container?.volumeMounts).to.deep.include({ name: 'tmp', mountPath: '/tmp' });
      // No CPU limit: a throttled event loop times its probes out.
      expect(container?.resources).to.deep.equal({
        requests: { cpu: '250m', memory: '512Mi' },
        limits: { memory: '512Mi' },
      });
    });

    it("ships the app's config files as a ConfigMap mounted where node-config reads them, leaving local ones out", async () => {
      const withConfig = mkdtempSync(join(tmpdir(), 'dionysus-manifest-config-'));
      try {
        mkdirSync(join(withConfig, 'config'));
        writeFileSync(join(withConfig, 'config', 'default.json'), '{"greeting":{"text":"hi"}}\n');
        writeFileSync(join(withConfig, 'config', 'production.json'), '{"greeting":{"text":"hello"}}\n');
        writeFileSync(join(withConfig, 'config', 'local.json'), '{"secret":"from my laptop"}\n');
        const exit = await node(SAMPLE, ['manifest', 'http'], {
          cwd: withConfig,
          env: withoutShellConfig(),
        }).waitForExit();
        expect(exit.code, exit.stderr).to.equal(0);
        const list = JSON.parse(exit.stdout) as KubeList;
        await validateBundle(list);
        const configMap = itemOf(list, 'ConfigMap') as unknown as {
          metadata: { name: string };
          data: Record<string, string>;
        };
        expect(Object.keys(configMap.data)).to.deep.equal(['default.json', 'production.json']);
        expect(configMap.data['default.json']).to.equal('{"greeting":{"text":"hi"}}\n');
        const pod = podOf(list);
        expect(pod.volumes).to.deep.include({ name: 'config', configMap: { name: configMap.metadata.name } });
        const [container] = pod.containers;
        expect(container?.volumeMounts).to.deep.include({ name: 'config', mountPath: '/app/config', readOnly: true });
        expect(container?.env).to.deep.include({ name: 'NODE_CONFIG_DIR', value: '/app/config' });
      } finally {
        rmSync(withConfig, { recursive: true, force: true });
      }
    });

    it('adds a ServiceMonitor and a HorizontalPodAutoscaler on request, leaving the replica count to the autoscaler', async () => {
      const list = await bundle(['grpc', '--service-monitor', '--autoscale', '2:10']);
      await validateBundle(list);
      expect(list.items.map((i) => i.kind)).to.include.members(['ServiceMonitor', 'HorizontalPodAutoscaler']);
      const monitor = itemOf(list, 'ServiceMonitor') as unknown as {
        spec: { endpoints: { port: string; path: string }[] };
      };
      expect(monitor.spec.endpoints).to.deep.equal([{ port: 'admin', path: '/metrics', interval: '30s' }]);
      const hpa = itemOf(list, 'HorizontalPodAutoscaler') as unknown as { spec: Record<string, unknown> };
      expect(hpa.spec).to.include({ minReplicas: 2, maxReplicas: 10 });
      expect((itemOf(list, 'Deployment') as unknown as { spec: object }).spec).to.not.have.property('replicas');
    });

    it('prints one kind with --only, and the same objects as YAML with --format yaml', async () => {
      const only = await manifest(['http', '--only', 'Deployment']);
      expect(only.code, only.stderr).to.equal(0);
      const json = await bundle(['http']);
      expect(JSON.parse(only.stdout)).to.deep.equal(itemOf(json, 'Deployment'));
      const yaml = await manifest(['http', '--format', 'yaml']);
      expect(yaml.code, yaml.stderr).to.equal(0);
      const { parse } = await import('yaml');
      expect(parse(yaml.stdout)).to.deep.equal(json);
      expect(yaml.stdout, 'no YAML aliases').to.not.match(/[&*]a\d/);
    });

    it('refuses bad resource, autoscaling, kind and format arguments, naming them', async () => {
      const cases: [string[], string][] = [
        [['http', '--cpu', 'lots'], '--cpu must be a CPU quantity'],
        [['http', '--memory', '1 GB'], '--memory must be a memory quantity'],
        [['http', '--autoscale', '5:2'], '--autoscale must be MIN:MAX'],
        [['http', '--autoscale', '2:5', '--replicas', '3'], '--replicas and --autoscale both set the number of pods'],
        [
          ['http', '--only', 'Ingress'],
          '--only Ingress: the bundle of http has Deployment, Service, PodDisruptionBudget',
        ],
        [['http', '--format', 'toml'], '--format must be json or yaml'],
      ];
      for (const [args, message] of cases) {
        const exit = await manifest(args);
        expect(exit.code, args.join(' ')).to.equal(1);
        expect(exit.stdout).to.equal('');
        expect(exit.stderr).to.include(message);
      }
    });

    it('takes a pod out of the Service only after three failed readiness checks, not one slow one', async () => {
      const container = containerOf(await deployment(['http']));
      expect(container.readinessProbe.failureThreshold).to.equal(3);
    });
  });
});
