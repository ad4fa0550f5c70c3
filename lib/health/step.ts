import type { Container } from 'inversify';
import { type FrameworkSettings, runtimeDirOf } from '../config/defaults.js';
import { bindConstant, onBuilt, resourceOf } from '../container/container.js';
import { DionysusError } from '../errors.js';
import type { Clock } from '../lifecycle/clock.js';
import type { Component } from '../lifecycle/component.js';
import type { LifecycleEvents } from '../lifecycle/events.js';
import { planOfBuilt } from '../plan/plan.js';
import type { AppPlan, CheckPlan, Class, CommandPlan } from '../plan/types.js';
import { socketFile } from '../probe/files.js';
import { Health } from './health.js';
import { AlreadyRunning, LocalChannel } from './local-channel.js';
import { RuntimeInfo } from './runtime.js';

export interface HealthOptions {
  readonly clock: Clock;
  readonly env: NodeJS.ProcessEnv;
  readonly plan: AppPlan;
  readonly command: CommandPlan;
  readonly container: Container;
  readonly events: LifecycleEvents;
  readonly settings: Pick<FrameworkSettings, 'health' | 'runtimeDir'>;
}

export interface HealthParts {
  readonly health: Health;
  /** Long-running commands only: their runtime directory. */
  readonly runtime: RuntimeInfo | undefined;
  /** The probe state and, for long-running commands, the claimed runtime directory (before PreRun). */
  readonly component: Component;
  /** The runtime descriptor, written once the run has started and removed first when it stops. */
  readonly descriptor: Component | undefined;
}

/**
 * The command's probe state, its checks registered as the container builds
 * their classes, and, for long-running commands, the runtime directory:
 * checked and claimed when the component starts, before PreRun (the local
 * control socket).
 */
export function createHealth(options: HealthOptions): HealthParts {
  const { plan, command, container, events, settings } = options;
  const health = new Health({ clock: options.clock, ...settings.health });
  const runtime = command.server
    ? new RuntimeInfo({
        dir: runtimeDirOf(settings, plan.name, options.env),
        app: plan.name,
        command: command.name,
        transport: command.server,
        events,
        retryMs: settings.health.heartbeatIntervalMs,
      })
    : undefined;
  let channel: LocalChannel | undefined;
  const component: Component = {
    name: 'health',
    async start() {
      bindConstant(container, Health, health);
      registerChecks(container, health, plan.main, plan.checks);
      registerChecks(container, health, command.cls, command.checks);
      // Providers (whatever made them: a class, useClass, useFactory, useValue) as the command's run builds them.
      onBuilt(container, (instance) => {
        if (instance && typeof instance === 'object') {
          addChecks(health, instance, planOfBuilt(plan, instance.constructor).checks);
        }
        // What a factory's component owns (a database, a Redis client) brings its own checks.
        for (const check of resourceOf(instance)?.checks?.() ?? []) health.addCheck(check);
      });
      events.on((event) => health.observe(event));
      if (!runtime) return;
      runtime.prepare();
      channel = await claim(runtime.dir, command.name, health);
      health.startLagMonitor();
      bindConstant(container, RuntimeInfo, runtime);
    },
    async stop() {
      health.stop();
      runtime?.remove();
      await channel?.close();
    },
  };
  const descriptor: Component | undefined = runtime && {
    name: 'runtime',
    start: () => runtime.write(),
    stop: () => runtime.remove(),
  };
  return { health, runtime, component, descriptor };
}

/** Listens on the command's control socket; a live instance already there stops this one from starting. */
async function claim(dir: string, command: string, health: Health): Promise<LocalChannel> {
  try {
    return await LocalChannel.open(socketFile(dir, command), health);
  } catch (error) {
    if (error instanceof AlreadyRunning) {
      throw new DionysusError(
        'config',
        `command ${command} already runs in the runtime directory ${dir} (pid ${String(error.pid)}); ` +
          'stop it first, or give this instance its own runtime directory (DIONYSUS_RUNTIME_DIR)',
        { expose: true },
      );
    }
    throw new DionysusError('config', (error as Error).message, { cause: error, expose: true });
  }
}

/** Adds a class's checks to the probe state when the container builds its (singleton) instance. */
function registerChecks(container: Container, health: Health, cls: Class, checks: readonly CheckPlan[]): void {
  if (checks.length === 0) return;
  container.onActivation(cls, (_context, instance) => {
    addChecks(health, instance as object, checks);
    return instance;
  });
}

function addChecks(health: Health, instance: object, checks: readonly CheckPlan[]): void {
  for (const check of checks) {
    health.addCheck({
      probe: check.probe,
      name: check.name,
      timeoutMs: check.timeoutMs,
      run: () => (instance as Record<string, () => unknown>)[check.method]?.(),
    });
  }
}
