/**
 * What a team applies for one command: the Deployment of ./manifest.ts,
 * hardened (non-root, read-only root filesystem, no privilege escalation, no
 * capabilities, resources), with the Service in front of it, a
 * PodDisruptionBudget, the app's config files as a ConfigMap mounted where
 * node-config reads them, the migrations of its sql databases (an init
 * container, or Jobs), and optionally a Prometheus Operator ServiceMonitor
 * and a HorizontalPodAutoscaler, as one `v1` `List`.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AppPlan, CommandPlan } from '../plan/types.js';
import { type ManifestOptions, renderManifest } from './manifest.js';
import { migrationContainers, migrationJobs, migrationsMode, sqlDatabasesOf } from './migrations.js';

export interface BundleOptions extends ManifestOptions {
  /** CPU request (no limit: a CPU limit throttles the event loop and times probes out). @default '100m' */
  cpu?: string | undefined;
  /** Memory request and limit. @default '256Mi' */
  memory?: string | undefined;
  /** Adds a Prometheus Operator ServiceMonitor for /metrics on the admin port. */
  serviceMonitor?: boolean | undefined;
  /** `MIN:MAX`: adds a HorizontalPodAutoscaler on 70% CPU (the Deployment then leaves replicas to it). */
  autoscale?: string | undefined;
  /**
   * How the migrations of the command's sql databases run: `init` containers
   * of the Deployment, `job`s, or `none`. @default 'init' when it has a database
   */
  migrations?: string | undefined;
  /** Only this kind of the bundle, e.g. `Deployment` (a List when the bundle has several). */
  only?: string | undefined;
}

type K8sObject = Record<string, unknown> & { kind: string };
type Result = { ok: true; output: K8sObject } | { ok: false; error: string };

/** The uid and gid the pod runs as: not root, and not one an image's own users are likely to have. */
const RUN_AS = 10001;
/** The working directory of a command with a sql database: `./config` and `./data` resolve under it. */
export const APP_DIR = '/app';
/** Where the ConfigMap of config files is mounted, and NODE_CONFIG_DIR points. */
export const CONFIG_MOUNT = `${APP_DIR}/config`;
/**
 * Where a database's default SQLite file lives (`sqlite:data/<name>.sqlite`, relative to the working
 * directory): an emptyDir, as the root filesystem is read-only. One file per pod, gone with the pod.
 */
export const DATA_MOUNT = `${APP_DIR}/data`;
/** A ConfigMap holds at most 1 MiB. */
const CONFIG_MAP_LIMIT = 1024 * 1024;
const CPU = /^(\d+m|\d+(\.\d+)?)$/;
const MEMORY = /^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$/;

export function renderBundle(plan: AppPlan, options: BundleOptions, env = process.env, cwd = process.cwd()): Result {
  const cpu = options.cpu ?? '100m';
  const memory = options.memory ?? '256Mi';
  if (!CPU.test(cpu))
    return { ok: false, error: `--cpu must be a CPU quantity such as 250m or 1, got ${JSON.stringify(cpu)}` };
  if (!MEMORY.test(memory)) {
    return {
      ok: false,
      error: `--memory must be a memory quantity such as 256Mi or 1Gi, got ${JSON.stringify(memory)}`,
    };
  }
  let autoscale: { min: number; max: number } | undefined;
  if (options.autoscale !== undefined) {
    const match = /^(\d+):(\d+)$/.exec(options.autoscale);
    const min = Number(match?.[1]);
    const max = Number(match?.[2]);
    if (!match || min < 1 || max < min) {
      return {
        ok: false,
        error: `--autoscale must be MIN:MAX with 1 <= MIN <= MAX (e.g. 2:10), got ${JSON.stringify(options.autoscale)}`,
      };
    }
    if (options.replicas !== undefined) {
      return { ok: false, error: '--replicas and --autoscale both set the number of pods: give one of them' };
    }
    autoscale = { min, max };
  }
  const deployment = renderManifest(plan, options, env);
  if (!deployment.ok) return deployment;
  const databases = sqlDatabasesOf(plan.commands.get(options.command) as CommandPlan);
  const migrations = migrationsMode(options.migrations, options.command, databases);
  if (typeof migrations === 'object') return { ok: false, error: migrations.error };
  const config = configFiles(env, cwd);
  if (typeof config === 'string') return { ok: false, error: config };

  const manifest = deployment.manifest as unknown as Deployment;
  const { name, labels } = manifest.metadata;
  const pod = manifest.spec.template.spec;
  const container = pod.containers[0] as Container;
  harden(pod, container, { cpu, memory });
  if (config) {
    pod.volumes.push({ name: 'config', configMap: { name: `${name}-config` } });
    container.volumeMounts.push({ name: 'config', mountPath: CONFIG_MOUNT, readOnly: true });
    container.env = [...(container.env ?? []), { name: 'NODE_CONFIG_DIR', value: CONFIG_MOUNT }];
  }
  if (autoscale) delete (manifest.spec as { replicas?: number }).replicas;
  if (databases.length > 0) {
    // The default SQLite URL is relative to the working directory; without a writable data/ the
    // database cannot open on the read-only root. The migration containers share the mount.
    pod.volumes.push({ name: 'data', emptyDir: { sizeLimit: '1Gi' } });
    container.volumeMounts.push({ name: 'data', mountPath: DATA_MOUNT });
    container.workingDir = APP_DIR;
  }
  const migrate = migrationContainers(container, databases);
  // Init containers listed before the containers, as they run.
  if (migrations === 'init')
    manifest.spec.template.spec = { ...pod, initContainers: migrate, containers: pod.containers };

  const selector = { matchLabels: labels };
  const items: K8sObject[] = [];
  if (config)
    items.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-config`, labels }, data: config });
  if (migrations === 'job') items.push(...(migrationJobs(plan.name, labels, pod, migrate) as K8sObject[]));
  items.push(manifest as unknown as K8sObject);
  items.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels },
    spec: {
      type: 'ClusterIP',
      selector: labels,
      ports: container.ports.map((port) => ({
        name: port.name,
        port: port.containerPort,
        targetPort: port.name,
        protocol: 'TCP',
        // Lets a mesh or an ingress speak HTTP/2 cleartext to gRPC.
        appProtocol: port.name === 'grpc' ? 'kubernetes.io/h2c' : 'http',
      })),
    },
  });
  items.push({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, labels },
    // One pod at a time: a node drain never takes every replica, and never blocks on a single one.
    spec: { maxUnavailable: 1, selector },
  });
  if (options.serviceMonitor) {
    items.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name, labels },
      spec: { selector, endpoints: [{ port: 'admin', path: '/metrics', interval: '30s' }] },
    });
  }
  if (autoscale) {
    items.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: autoscale.min,
        maxReplicas: autoscale.max,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
        ],
      },
    });
  }
  if (options.only !== undefined) {
    const only = items.filter((i) => i.kind === options.only);
    if (only.length === 0) {
      return {
        ok: false,
        error: `--only ${options.only}: the bundle of ${options.command} has ${[...new Set(items.map((i) => i.kind))].join(', ')}`,
      };
    }
    return {
      ok: true,
      output: only.length === 1 ? (only[0] as K8sObject) : { apiVersion: 'v1', kind: 'List', items: only },
    };
  }
  return { ok: true, output: { apiVersion: 'v1', kind: 'List', items } };
}

interface Container {
  ports: { name: string; containerPort: number }[];
  env?: { name: string; value: string }[];
  volumeMounts: Record<string, unknown>[];
  [key: string]: unknown;
}

interface Deployment {
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    template: {
      spec: {
        containers: Container[];
        initContainers?: Record<string, unknown>[];
        volumes: Record<string, unknown>[];
        [key: string]: unknown;
      };
    };
  };
}

/**
 * Non-root with a read-only root filesystem: the runtime directory (the
 * descriptor, the heartbeat, the control socket) lives under /tmp, an
 * emptyDir, where the exec probe finds it by the same default.
 */
function harden(
  pod: Deployment['spec']['template']['spec'],
  container: Container,
  resources: { cpu: string; memory: string },
): void {
  pod.securityContext = {
    runAsNonRoot: true,
    runAsUser: RUN_AS,
    runAsGroup: RUN_AS,
    fsGroup: RUN_AS,
    seccompProfile: { type: 'RuntimeDefault' },
  };
  pod.volumes = [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }];
  container.securityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
  container.volumeMounts = [{ name: 'tmp', mountPath: '/tmp' }];
  container.resources = {
    requests: { cpu: resources.cpu, memory: resources.memory },
    limits: { memory: resources.memory },
  };
}

/**
 * The app's config files (NODE_CONFIG_DIR, else ./config), by file name:
 * undefined when there are none, or what is wrong. `local*` files are this
 * machine's overrides in node-config's scheme, never shipped.
 */
function configFiles(env: NodeJS.ProcessEnv, cwd: string): Record<string, string> | undefined | string {
  const dir = resolve(cwd, env.NODE_CONFIG_DIR || 'config');
  if (!existsSync(dir)) return undefined;
  const data: Record<string, string> = {};
  let size = 0;
  for (const file of readdirSync(dir).sort()) {
    if (file.startsWith('local') || file.startsWith('.')) continue;
    const path = join(dir, file);
    if (!lstatSync(path).isFile()) continue;
    if (!/^[-._a-zA-Z0-9]+$/.test(file)) {
      return `config file ${path}: a ConfigMap key allows only letters, digits, '-', '_' and '.'; rename it`;
    }
    const text = readFileSync(path, 'utf8');
    size += Buffer.byteLength(text) + file.length;
    data[file] = text;
  }
  if (size > CONFIG_MAP_LIMIT) {
    return `the config files in ${dir} hold ${size} bytes; a ConfigMap holds at most ${CONFIG_MAP_LIMIT}`;
  }
  return Object.keys(data).length > 0 ? data : undefined;
}
