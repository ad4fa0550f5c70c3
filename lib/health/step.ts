import type { Container } from 'inversify';
import { runtimeDirOf } from '../config/defaults.js';
import { bindConstant, onBuilt } from '../container/container.js';
import { DionysusError } from '../errors.js';
import type { Clock } from '../lifecycle/clock.js';
import type { FrameworkStep } from '../lifecycle/lifecycle.js';
import { planOfBuilt } from '../plan/plan.js';
import type { CheckPlan, Class } from '../plan/types.js';
import { socketFile } from '../probe/files.js';
import { Health } from './health.js';
import { AlreadyRunning, LocalChannel } from './local-channel.js';
import { RuntimeInfo } from './runtime.js';

/**
 * The health step (after config): the command's probe state, its checks
 * registered as the container builds their classes, and, for long-running
 * commands, the runtime directory: checked and claimed here, before PreRun
 * (the local control socket), with the descriptor written once the run has
 * started.
 */
export function healthStep(clock: Clock, env: NodeJS.ProcessEnv = process.env): FrameworkStep {
  let health: Health | undefined;
  let runtime: RuntimeInfo | undefined;
  let channel: LocalChannel | undefined;
  return {
    name: 'health',
    async start(context) {
      const { plan, command, container, events, settings } = context;
      health = new Health({ clock, ...settings.health });
      const active = health;
      bindConstant(container, Health, active);
      registerChecks(container, active, plan.main, plan.checks);
      registerChecks(container, active, command.cls, command.checks);
      // Providers (whatever made them: a class, useClass, useFactory, useValue) as the command's run builds them.
      onBuilt(container, (instance) => {
        if (instance && typeof instance === 'object') {
          addChecks(active, instance, planOfBuilt(plan, instance.constructor).checks);
        }
      });
      events.on((event) => active.observe(event));
      if (!command.server) return;
      const dir = runtimeDirOf(settings, plan.name, env);
      const info = new RuntimeInfo({
        dir,
        app: plan.name,
        command: command.name,
        transport: command.server,
        events,
        retryMs: settings.health.heartbeatIntervalMs,
      });
      info.prepare();
      channel = await claim(dir, command.name, active);
      active.startLagMonitor();
      runtime = info;
      bindConstant(container, RuntimeInfo, info);
      events.on((event) => {
        if (event.type === 'state' && event.state === 'running') info.write();
        if ((event.type === 'state' && event.state === 'stopped') || event.type === 'exit') info.remove();
      });
    },
    async stop() {
      health?.stop();
      runtime?.remove();
      await channel?.close();
    },
  };
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
