import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Exit, fixture, killChildren, node, SAMPLE } from '../integration/child.js';
import { withoutShellConfig } from '../telemetry/log-lines.js';
import { itemOf, type KubeList, type KubeObject, validateBundle } from './kube-objects.js';

type Container = Record<string, unknown> & { name: string; command: string[]; args: string[] };
interface PodSpec {
  readonly initContainers?: Container[];
  readonly containers: Container[];
  readonly [key: string]: unknown;
}
const podOf = (item: KubeObject): PodSpec =>
  (item as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

/** What the migration container shares with the app's: the same configuration reaches the same database. */
const SHARED = ['image', 'command', 'workingDir', 'env', 'volumeMounts', 'securityContext', 'resources'];
const shared = (container: Container): Record<string, unknown> =>
  Object.fromEntries(SHARED.filter((k) => k in container).map((k) => [k, container[k]]));

// `app manifest` of an app with sql databases (spec/fixtures/sql-app: `main` for every command, `audit` for
// ctl only), run as a user runs it, in a folder with the app's config files.
describe('app manifest of an app with a sql database', () => {
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'dionysus-manifest-sql-'));
    mkdirSync(join(cwd, 'config'));
    writeFileSync(join(cwd, 'config', 'default.json'), '{"dionysus":{"log":{"level":"warn"}}}\n');
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));
  afterEach(killChildren);

  const manifest = (args: readonly string[], entry = fixture('sql-app')): Promise<Exit> =>
    node(entry, ['manifest', ...args], { cwd, env: withoutShellConfig() }).waitForExit();

  const bundle = async (args: readonly string[]): Promise<KubeList> => {
    const exit = await manifest(args);
    expect(exit.code, exit.stderr).to.equal(0);
    const list = JSON.parse(exit.stdout) as KubeList;
    await validateBundle(list);
    return list;
  };

  it('migrates in an init container by default: `migrate up` of each database, like the app container', async () => {
    const list = await bundle(['ctl', '--image', 'registry.example/todos:2.0.0', '--binary', '/bin/todos']);
    expect(list.items.map((i) => i.kind)).to.deep.equal(['ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget']);
    const pod = podOf(itemOf(list, 'Deployment'));
    const [app] = pod.containers as [Container];
    const init = pod.initContainers ?? [];
    expect(init.map((c) => [c.name, ...c.command, ...c.args])).to.deep.equal([
      ['migrate', '/bin/todos', 'migrate', 'up'],
      ['migrate-audit', '/bin/todos', 'migrate', 'audit', 'up'],
    ]);
    for (const container of init) {
      expect(shared(container)).to.deep.equal(shared(app));
      expect(container, 'an init container has no probes').to.not.have.any.keys(
        'startupProbe',
        'livenessProbe',
        'readinessProbe',
      );
    }
    expect(app.env).to.deep.include({ name: 'NODE_CONFIG_DIR', value: '/app/config' });
    expect(app.volumeMounts).to.deep.include({ name: 'config', mountPath: '/app/config', readOnly: true });
  });

  it("migrates only the databases the command builds: @Main's for http, @Main's and its own for ctl", async () => {
    const pod = podOf(itemOf(await bundle(['http']), 'Deployment'));
    expect((pod.initContainers ?? []).map((c) => [c.name, ...c.command, ...c.args])).to.deep.equal([
      ['migrate', '/app/app', 'migrate', 'up'],
    ]);
  });

  it('gives the default SQLite file (data/<name>.sqlite) a writable folder on the read-only root: an emptyDir at /app/data, the working directory /app', async () => {
    const pod = podOf(itemOf(await bundle(['http']), 'Deployment'));
    const [app] = pod.containers as [Container];
    expect(app.workingDir).to.equal('/app');
    expect(app.volumeMounts).to.deep.include({ name: 'data', mountPath: '/app/data' });
    expect(pod.volumes).to.deep.include({ name: 'data', emptyDir: { sizeLimit: '1Gi' } });
    expect((app.securityContext as { readOnlyRootFilesystem: boolean }).readOnlyRootFilesystem).to.equal(true);
    // The init container migrates the same file the app then opens.
    for (const container of pod.initContainers ?? []) {
      expect(container.workingDir).to.equal('/app');
      expect(container.volumeMounts).to.deep.include({ name: 'data', mountPath: '/app/data' });
    }
  });

  it('leaves the working directory and volumes of a command without a database alone', async () => {
    // The reference app's grpc command opens no database.
    const exit = await manifest(['grpc'], SAMPLE);
    expect(exit.code, exit.stderr).to.equal(0);
    const pod = podOf(itemOf(JSON.parse(exit.stdout) as KubeList, 'Deployment'));
    const [app] = pod.containers as [Container];
    expect(app).to.not.have.property('workingDir');
    expect((pod.volumes as { name: string }[]).map((v) => v.name)).to.deep.equal(['tmp', 'config']);
  });

  it('runs the migrations as Jobs with --migrations job: one per database, retried, removed after, hardened', async () => {
    const args = ['ctl', '--migrations', 'job', '--cpu', '250m'];
    const list = await bundle(args);
    expect(list.items.map((i) => i.kind)).to.deep.equal([
      'ConfigMap',
      'Job',
      'Job',
      'Deployment',
      'Service',
      'PodDisruptionBudget',
    ]);
    const deployment = itemOf(list, 'Deployment');
    const pod = podOf(deployment);
    expect(pod).to.not.have.property('initContainers');
    const jobs = list.items.filter((i) => i.kind === 'Job');
    expect(jobs.map((j) => j.metadata.name)).to.deep.equal(['todos-migrate', 'todos-migrate-audit']);
    for (const job of jobs) {
      const spec = (job as unknown as { spec: Record<string, unknown> }).spec;
      expect(spec).to.include({ backoffLimit: 3, ttlSecondsAfterFinished: 600 });
      const jobPod = podOf(job);
      expect(jobPod).to.include({ restartPolicy: 'Never', automountServiceAccountToken: false });
      expect(jobPod.securityContext).to.deep.equal(pod.securityContext);
      expect(jobPod.volumes).to.deep.equal(pod.volumes);
      const [container] = jobPod.containers as [Container];
      expect(container.args.at(-1)).to.equal('up');
      expect(shared(container)).to.deep.equal(shared(pod.containers[0] as Container));
      // Not the Deployment's pods: its selector, Service and PodDisruptionBudget leave them alone.
      expect(job.metadata.labels['app.kubernetes.io/component']).to.not.equal(
        deployment.metadata.labels['app.kubernetes.io/component'],
      );
    }
    const only = JSON.parse((await manifest([...args, '--only', 'Job'])).stdout) as KubeList;
    expect(only.kind, 'several objects of the kind come as a List').to.equal('List');
    expect(only.items).to.deep.equal(jobs);
  });

  it('leaves the migrations out with --migrations none', async () => {
    const list = await bundle(['ctl', '--migrations', 'none']);
    expect(list.items.map((i) => i.kind)).to.not.include('Job');
    expect(podOf(itemOf(list, 'Deployment'))).to.not.have.property('initContainers');
  });

  it('refuses a bad --migrations, and init or job for a command without a database', async () => {
    const bad = await manifest(['ctl', '--migrations', 'later']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.equal('--migrations must be init, job or none, got "later"\n');
    for (const mode of ['init', 'job']) {
      const exit = await manifest(['grpc', '--migrations', mode], SAMPLE);
      expect(exit.code).to.equal(1);
      expect(exit.stderr).to.equal(
        `--migrations ${mode}: grpc has no sql database (register one with sqlDatabase() from dionysus/sql)\n`,
      );
    }
    const none = await manifest(['grpc', '--migrations', 'none'], SAMPLE);
    expect(none.code, none.stderr).to.equal(0);
  });
});
