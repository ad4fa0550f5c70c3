import { Command, type CommandClass, Option } from 'clipanion';
import { PlanError } from '../errors.js';
import type { AppPlan } from '../plan/types.js';
import { PROBE_NAMES } from '../probe/files.js';
import { PROBE_DETAILS, PROBE_FLAGS } from '../probe/usage.js';
import type { Complete } from './cli.js';
import { VALUE_NAMES } from './usage.js';
import { appVersion } from './version.js';

/**
 * `startup`, `liveness` and `readiness` in the CLI too: the launcher answers
 * them before the app loads, but `bootstrap(App, ['readiness'])` and `--help`
 * see them here.
 */
export function probeCommands(): CommandClass[] {
  return PROBE_NAMES.map(
    (probe) =>
      class extends Command {
        static override paths = [[probe]];
        static override usage = Command.Usage({
          category: 'Probes',
          description: `exec probe: exit 0 when the running command's ${probe} passes`,
          details: PROBE_DETAILS,
        });
        static [VALUE_NAMES]: Record<string, string> = Object.fromEntries(PROBE_FLAGS.map((f) => [f.flag, f.value]));
        constructor() {
          super();
          // clipanion reads option definitions from instance properties: one per flag, keyed by the flag.
          for (const f of PROBE_FLAGS) this.#values[f.flag] = Option.String(f.flag, { description: f.description });
        }

        get #values(): Record<string, unknown> {
          return this as unknown as Record<string, unknown>;
        }

        async execute(): Promise<number> {
          const { runProbe } = require('../probe/main.js') as typeof import('../probe/main.js');
          const args = PROBE_FLAGS.flatMap(({ flag }) => {
            const value = this.#values[flag];
            return typeof value === 'string' ? [flag, value] : [];
          });
          return runProbe([probe, ...args], {
            stdout: this.context.stdout,
            stderr: this.context.stderr,
            env: process.env,
          });
        }
      },
  );
}

/** `manifest <command>`: prints the Kubernetes bundle of a command, whose probes and grace period agree with the config. */
export function manifestCommand(plan: AppPlan): CommandClass {
  return class extends Command {
    static override paths = [['manifest']];
    static override usage = Command.Usage({
      category: 'Deploying',
      description: 'print the Kubernetes objects of a command: a v1 List (JSON or YAML)',
      details:
        'A Deployment (non-root, read-only root filesystem, resources), its Service, a PodDisruptionBudget and a ConfigMap of the config files; with a sql database, its migration as an init container (or a Job); optionally a ServiceMonitor and a HorizontalPodAutoscaler. Probes, terminationGracePeriodSeconds and the drain delay follow the configuration (as it applies inside Kubernetes). Refuses a grace period the shutdown budget cannot fit.',
      examples: [
        ['The bundle of the http command', `$0 manifest http --image registry.example/${plan.name}:1.0.0`],
        [
          'As YAML, with a ServiceMonitor and autoscaling',
          `$0 manifest http --format yaml --service-monitor --autoscale 2:10`,
        ],
      ],
    });
    static [VALUE_NAMES]: Record<string, string> = {
      '--image': 'IMAGE',
      '--replicas': 'N',
      '--grace-period': 'S',
      '--probes': 'native|exec',
      '--binary': 'PATH',
      '--cpu': 'CPU',
      '--memory': 'SIZE',
      '--autoscale': 'MIN:MAX',
      '--migrations': 'init|job|none',
      '--only': 'KIND',
      '--format': 'json|yaml',
    };
    command = Option.String({ required: true, name: 'command' });
    image = Option.String('--image', { description: `container image (default ${plan.name}:<version>)` });
    replicas = Option.String('--replicas', { description: 'number of pods (default 2)' });
    gracePeriod = Option.String('--grace-period', {
      description: 'terminationGracePeriodSeconds; computed when omitted',
    });
    probes = Option.String('--probes', { description: 'native (httpGet/grpc where served, the default) or exec' });
    binary = Option.String('--binary', { description: 'path of the app executable in the image (default /app/app)' });
    cpu = Option.String('--cpu', { description: 'CPU request, no limit (default 100m)' });
    memory = Option.String('--memory', { description: 'memory request and limit (default 256Mi)' });
    serviceMonitor = Option.Boolean('--service-monitor', false, {
      description: 'add a Prometheus Operator ServiceMonitor for /metrics',
    });
    autoscale = Option.String('--autoscale', { description: 'add a HorizontalPodAutoscaler on 70% CPU' });
    migrations = Option.String('--migrations', {
      description: 'with a sql database: run `migrate up` as an init container (the default), a Job, or none',
    });
    only = Option.String('--only', { description: 'print only this kind, e.g. Deployment' });
    format = Option.String('--format', { description: 'json (the default) or yaml' });

    async execute(): Promise<number> {
      const format = this.format ?? 'json';
      if (format !== 'json' && format !== 'yaml') {
        this.context.stderr.write(`--format must be json or yaml, got ${JSON.stringify(format)}\n`);
        return 1;
      }
      const { renderBundle } = require('../ship/bundle.js') as typeof import('../ship/bundle.js');
      const result = renderBundle(plan, {
        command: this.command,
        image: this.image,
        replicas: this.replicas,
        gracePeriod: this.gracePeriod,
        probes: this.probes,
        binary: this.binary,
        cpu: this.cpu,
        memory: this.memory,
        serviceMonitor: this.serviceMonitor,
        autoscale: this.autoscale,
        migrations: this.migrations,
        only: this.only,
      });
      if (!result.ok) {
        this.context.stderr.write(`${result.error}\n`);
        return 1;
      }
      this.context.stdout.write(
        format === 'yaml'
          ? (require('yaml') as typeof import('yaml')).stringify(result.output, { aliasDuplicateObjects: false })
          : `${JSON.stringify(result.output, null, 2)}\n`,
      );
      return 0;
    }
  };
}

/** `openapi <command>`: prints the OpenAPI 3.1 document of an http command. */
export function openApiCommand(plan: AppPlan, complete: Complete): CommandClass {
  const http = [...plan.commands.values()].filter((c) => c.server === 'http').map((c) => c.name);
  return class extends Command {
    static override paths = [['openapi']];
    static override usage = Command.Usage({
      category: 'Deploying',
      description: 'print the OpenAPI 3.1 document (JSON) of an http command',
      details:
        'Routes, parameters, request bodies and responses from the schemas of the parameter decorators, the /healthx routes and the error shapes.',
      examples: [['The document of the http command', `$0 openapi ${http[0] ?? 'http'}`]],
    });
    command = Option.String({ required: true, name: 'command' });

    async execute(): Promise<number> {
      const command = plan.commands.get(this.command);
      if (command?.server !== 'http') {
        this.context.stderr.write(
          `openapi: ${JSON.stringify(this.command)} is not an http command of ${plan.name}; http commands: ${http.join(', ') || 'none'}\n`,
        );
        return 2;
      }
      let loaded: Awaited<ReturnType<Complete>>;
      try {
        loaded = await complete(command);
      } catch (error) {
        if (!(error instanceof PlanError)) throw error;
        this.context.stderr.write(`${error.message}\n`);
        return 1;
      }
      const { openApiDocument } = require('../http/openapi.js') as typeof import('../http/openapi.js');
      const document = openApiDocument(loaded.plan, loaded.command, appVersion(plan.version));
      this.context.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      return 0;
    }
  };
}
