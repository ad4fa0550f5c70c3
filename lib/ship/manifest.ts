import { appVersion } from '../cli/version.js';
import type { FrameworkSettings } from '../config/defaults.js';
import { loadConfiguration, stopHooksOf } from '../config/load.js';
import type { AppPlan, CommandPlan } from '../plan/types.js';
import type { ProbeName } from '../probe/files.js';

export interface ManifestOptions {
  command: string;
  image?: string | undefined;
  replicas?: string | undefined;
  gracePeriod?: string | undefined;
  probes?: string | undefined;
  binary?: string | undefined;
}

/**
 * Seconds between the end of the shutdown budget and the kubelet's SIGKILL.
 * The budget already holds everything the process does after the signal,
 * PostRun hooks and the telemetry flush included, and ends at its exit; the
 * kubelet counts from the moment it sent SIGTERM, so the margin covers what
 * neither clock sees: the signal reaching the process, its exit, and the
 * container runtime reaping it. A margin of zero would let SIGKILL land on a
 * process that is exiting on time.
 */
export const GRACE_MARGIN_SECONDS = 2;

type Result = { ok: true; manifest: Record<string, unknown> } | { ok: false; error: string };

/**
 * A Deployment for one command. The drain delay and shutdown budget are the
 * configuration as it applies inside Kubernetes (KUBERNETES_SERVICE_HOST
 * set); the grace period is the budget plus a fixed margin.
 */
export function renderManifest(plan: AppPlan, options: ManifestOptions, env = process.env): Result {
  const command = plan.commands.get(options.command);
  if (!command) {
    // Tasks are not offered: they are refused just below.
    const servers = [...plan.commands.values()].filter((c) => c.server).map((c) => c.name);
    return {
      ok: false,
      error: `no command ${JSON.stringify(options.command)}; choose one of ${servers.join(', ')}`,
    };
  }
  if (!command.server) {
    return {
      ok: false,
      error: `${command.name} is a task (it runs to completion): a Deployment runs http, grpc or ctl commands`,
    };
  }
  let settings: FrameworkSettings;
  try {
    const stopHooks = stopHooksOf(plan, command);
    settings = loadConfiguration(
      { ...env, KUBERNETES_SERVICE_HOST: env.KUBERNETES_SERVICE_HOST || 'kubernetes.default.svc' },
      undefined,
      stopHooks,
    ).settings;
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  // Port 0 (an ephemeral port, e.g. HTTP_PORT=0 left in the shell) would give probes and containerPort
  // nothing to point at; the API server rejects containerPort 0.
  const ephemeral = portKeys(command).filter((key) => settings[key].port === 0);
  if (ephemeral.length > 0) {
    return {
      ok: false,
      error: `${ephemeral.map((key) => `dionysus.${key}.port`).join(' and ')} ${ephemeral.length > 1 ? 'are' : 'is'} 0 (an ephemeral port): a Deployment needs fixed ports for its probes and containerPort; set a port (check HTTP_PORT, GRPC_PORT and ADMIN_PORT in the environment)`,
    };
  }
  // loadConfiguration refused a drain delay not shorter than the budget.
  const { drainDelayMs, timeoutMs } = settings.shutdown;
  const needed = Math.ceil(timeoutMs / 1000) + GRACE_MARGIN_SECONDS;
  let grace = needed;
  if (options.gracePeriod !== undefined) {
    grace = Number(options.gracePeriod);
    if (!Number.isInteger(grace) || grace < 1)
      return {
        ok: false,
        error: `--grace-period must be a whole number of seconds, got ${JSON.stringify(options.gracePeriod)}`,
      };
    if (grace < needed) {
      return {
        ok: false,
        error: `terminationGracePeriodSeconds ${grace} cannot fit the shutdown: dionysus.shutdown.timeoutMs is ${timeoutMs} ms (drain delay ${drainDelayMs} ms, PostRun hooks and the telemetry flush included) plus ${GRACE_MARGIN_SECONDS} s for the process to exit = ${needed} s; raise --grace-period to ${needed} or lower the budget`,
      };
    }
  }
  const replicas = options.replicas === undefined ? 2 : Number(options.replicas);
  if (!Number.isInteger(replicas) || replicas < 0)
    return { ok: false, error: `--replicas must be a whole number, got ${JSON.stringify(options.replicas)}` };
  const mode = options.probes ?? 'native';
  if (mode !== 'native' && mode !== 'exec')
    return { ok: false, error: `--probes must be native or exec, got ${JSON.stringify(mode)}` };

  const name = `${plan.name}-${command.name}`;
  const labels = { 'app.kubernetes.io/name': plan.name, 'app.kubernetes.io/component': command.name };
  const binary = options.binary ?? '/app/app';
  const ports = containerPorts(command, settings);
  return {
    ok: true,
    manifest: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        // A new pod is ready before an old one stops: with the drain, no request is dropped.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
          metadata: {
            labels,
            annotations: {
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': String(settings.admin.port),
              'prometheus.io/path': '/metrics',
              'dionysus.dev/drain-delay-ms': String(drainDelayMs),
              'dionysus.dev/shutdown-budget-ms': String(timeoutMs),
            },
          },
          spec: {
            terminationGracePeriodSeconds: grace,
            containers: [
              {
                name: command.name,
                image: options.image ?? `${plan.name}:${appVersion(plan.version) ?? 'latest'}`,
                command: [binary],
                args: [command.name],
                ports,
                ...probes(command, settings, mode === 'exec' ? binary : undefined),
              },
            ],
          },
        },
      },
    },
  };
}

/** The settings sections whose port the Deployment names. */
function portKeys(command: CommandPlan): ('http' | 'grpc' | 'admin')[] {
  return command.server === 'http' || command.server === 'grpc' ? [command.server, 'admin'] : ['admin'];
}

function containerPorts(command: CommandPlan, settings: FrameworkSettings): Record<string, unknown>[] {
  const ports: Record<string, unknown>[] = [];
  if (command.server === 'http') ports.push({ name: 'http', containerPort: settings.http.port, protocol: 'TCP' });
  if (command.server === 'grpc') ports.push({ name: 'grpc', containerPort: settings.grpc.port, protocol: 'TCP' });
  ports.push({ name: 'admin', containerPort: settings.admin.port, protocol: 'TCP' });
  return ports;
}

/**
 * Startup allows a slow start (up to failureThreshold × period); liveness is
 * patient; readiness takes a pod out after three failures in a row (15 s),
 * not one: a single slow check (a database hiccup) must not pull a pod, and a
 * stopping pod leaves the Service's endpoints on deletion, not by failing
 * readiness. Exec probes (ctl, or `--probes exec`) run the binary's own probe
 * commands, which answer within 1 s.
 */
function probes(
  command: CommandPlan,
  settings: FrameworkSettings,
  execBinary: string | undefined,
): Record<string, unknown> {
  const how = (probe: ProbeName): Record<string, unknown> => {
    if (command.server === 'ctl' || execBinary) return { exec: { command: [execBinary ?? '/app/app', probe] } };
    if (command.server === 'http') return { httpGet: { path: `/healthx/${probe}`, port: 'http' } };
    return { grpc: { port: settings.grpc.port, service: probe } };
  };
  return {
    startupProbe: { ...how('startup'), periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 30 },
    livenessProbe: { ...how('liveness'), periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 },
    readinessProbe: {
      ...how('readiness'),
      periodSeconds: 5,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
    },
  };
}
