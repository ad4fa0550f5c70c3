import type { Container } from 'inversify';
import { runtimeDirOf } from '../config/defaults.js';
import { bindConstant } from '../container/container.js';
import type { Clock } from '../lifecycle/clock.js';
import type { FrameworkStep } from '../lifecycle/lifecycle.js';
import type { CheckPlan, Class } from '../plan/types.js';
import { Health } from './health.js';
import { RuntimeInfo } from './runtime.js';

/**
 * The health step (after config): the command's probe state, its checks
 * registered as the container builds their classes, and, for long-running
 * commands, the runtime descriptor written once the run has started.
 */
export function healthStep(clock: Clock): FrameworkStep {
  let health: Health | undefined;
  let runtime: RuntimeInfo | undefined;
  return {
    name: 'health',
    start(context) {
      const { plan, command, container, events, settings } = context;
      health = new Health({ clock, ...settings.health });
      const active = health;
      bindConstant(container, Health, active);
      registerChecks(container, active, plan.main, plan.checks);
      registerChecks(container, active, command.cls, command.checks);
      for (const [cls, checks] of plan.providerChecks) registerChecks(container, active, cls, checks);
      events.on((event) => active.observe(event));
      if (!command.server) return;
      active.startLagMonitor();
      const info = new RuntimeInfo({
        dir: runtimeDirOf(settings, plan.name),
        app: plan.name,
        command: command.name,
        transport: command.server,
      });
      runtime = info;
      bindConstant(container, RuntimeInfo, info);
      events.on((event) => {
        if (event.type === 'state' && event.state === 'running') info.write();
        if ((event.type === 'state' && event.state === 'stopped') || event.type === 'exit') info.remove();
      });
    },
    stop() {
      health?.stop();
      runtime?.remove();
    },
  };
}

/** Adds a class's checks to the probe state when the container builds its (singleton) instance. */
function registerChecks(container: Container, health: Health, cls: Class, checks: readonly CheckPlan[]): void {
  if (checks.length === 0) return;
  container.onActivation(cls, (_context, instance) => {
    for (const check of checks) {
      health.addCheck({
        probe: check.probe,
        name: check.name,
        timeoutMs: check.timeoutMs,
        run: () => (instance as Record<string, () => unknown>)[check.method]?.(),
      });
    }
    return instance;
  });
}
