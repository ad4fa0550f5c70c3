/**
 * The migrations of a command's sql databases in its Kubernetes bundle: an
 * init container of the Deployment (every pod migrates before it starts;
 * Kysely's migrator lock makes replicas racing safe) or a Job (once per
 * release, its pod hardened like the Deployment's).
 */
import type { CommandPlan } from '../plan/types.js';

/** `--migrations`: how the bundle runs migrations. */
export type MigrationsMode = 'init' | 'job' | 'none';
const MODES: readonly MigrationsMode[] = ['init', 'job', 'none'];

/** A failed Job pod is tried again this many times (each a new pod, whose logs stay for `kubectl logs`). */
export const JOB_BACKOFF_LIMIT = 3;
/** A finished Job (and its pods) is deleted after this, so the next release can create it again. */
export const JOB_TTL_SECONDS = 600;

// The token `sqlDatabase(name)` (dionysus/sql) registers: `sqlToken(name)`, Symbol.for('dionysus.sql:<name>').
// Read from the token, so the manifest knows the databases without loading dionysus/sql or a driver.
const SQL_TOKEN = /^dionysus\.sql:(.+)$/;

/** The sql databases a run of `command` builds (@Main's and its own), `main` first, then by name. */
export function sqlDatabasesOf(command: CommandPlan): string[] {
  const names = new Set<string>();
  for (const build of command.builds) {
    const key = typeof build.token === 'symbol' ? Symbol.keyFor(build.token) : undefined;
    const name = key === undefined ? undefined : SQL_TOKEN.exec(key)?.[1];
    if (name !== undefined) names.add(name);
  }
  return [...names].sort((a, b) => (a === 'main' ? -1 : b === 'main' ? 1 : a.localeCompare(b)));
}

/** The arguments of the task that applies database `name`'s migrations (DESIGN.md §8: `app migrate up`). */
export function migrateUpArgs(name: string): string[] {
  return name === 'main' ? ['migrate', 'up'] : ['migrate', name, 'up'];
}

/** The mode `--migrations` asks for, given whether the command has a database, or what is wrong. */
export function migrationsMode(
  flag: string | undefined,
  command: string,
  databases: readonly string[],
): MigrationsMode | { error: string } {
  if (flag !== undefined && !MODES.includes(flag as MigrationsMode)) {
    return { error: `--migrations must be init, job or none, got ${JSON.stringify(flag)}` };
  }
  if (databases.length === 0) {
    if (flag === undefined || flag === 'none') return 'none';
    return {
      error: `--migrations ${flag}: ${command} has no sql database (register one with sqlDatabase() from dionysus/sql)`,
    };
  }
  return (flag as MigrationsMode | undefined) ?? 'init';
}

type Container = Record<string, unknown>;
type PodSpec = { securityContext?: unknown; volumes?: unknown[]; [key: string]: unknown };

/**
 * One container per database running `<binary> migrate up`, with the app
 * container's image, executable, working directory, env, volumes, securityContext and resources:
 * the same configuration reaches the same database, under the same limits.
 */
export function migrationContainers(app: Container, databases: readonly string[]): Container[] {
  return databases.map((name) => ({
    name: name === 'main' ? 'migrate' : `migrate-${name}`,
    ...copyOf(app, ['image', 'command']),
    args: migrateUpArgs(name),
    ...copyOf(app, ['workingDir', 'env', 'volumeMounts', 'securityContext', 'resources']),
  }));
}

/** The Jobs that run each database's migration once, their pods hardened like the Deployment's. */
export function migrationJobs(
  appName: string,
  labels: Record<string, string>,
  pod: PodSpec,
  containers: readonly Container[],
): Record<string, unknown>[] {
  return containers.map((container) => {
    const name = `${appName}-${container.name as string}`;
    const jobLabels = { ...labels, 'app.kubernetes.io/component': container.name as string };
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, labels: jobLabels },
      spec: {
        backoffLimit: JOB_BACKOFF_LIMIT,
        ttlSecondsAfterFinished: JOB_TTL_SECONDS,
        template: {
          metadata: { labels: jobLabels },
          spec: {
            restartPolicy: 'Never',
            // A migration talks to its database, never to the Kubernetes API.
            automountServiceAccountToken: false,
            ...copyOf(pod, ['securityContext', 'volumes']),
            containers: [container],
          },
        },
      },
    };
  });
}

/** Deep copies of the keys `from` has: the bundle's objects share nothing, so editing one changes no other. */
function copyOf(from: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, structuredClone(from[k])]));
}
