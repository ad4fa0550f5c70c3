import type { Registry } from 'prom-client';
import type { Resource } from '../../decorators/inject.js';
import { AppConfig } from '../config/app-config.js';
import { injectNamed, namedToken } from '../integrations/tokens.js';
import { Clock } from '../lifecycle/clock.js';
import { Logger, REGISTRY } from '../telemetry/tokens.js';
import type { BoundedPool } from './core.js';
import { CpuPool, type CpuPoolOptions } from './cpu-pool.js';
import { poolSettings } from './settings.js';
import { TaskPool, type TaskPoolOptions } from './task-pool.js';

/** The container token of the pool `name` (what `InjectPool(name)` asks for). */
export function poolToken(name: string): symbol {
  return namedToken('pool', name);
}

/** A `useFactory` provider: `@Main({ providers: [taskPool('jobs')] })`. */
export interface PoolProvider<T> {
  readonly provide: symbol;
  readonly useFactory: (config: AppConfig, logger: Logger, registry: Registry, clock?: Clock) => T;
  readonly inject: readonly [typeof AppConfig, typeof Logger, typeof REGISTRY, typeof Clock];
  /** What the lifecycle starts, drains and stops in the pool's place (`pool:<name>`). */
  readonly component: (pool: T) => Resource;
}

type CodeOptions<O> = Omit<O, 'registry' | 'logger'>;

/**
 * The provider of a `TaskPool` named `name`: its settings are `options`
 * under `dionysus.pool.<name>` from configuration; its metrics go to the
 * command's registry and what it drops to the command's logger. When the
 * running command builds it, the pool drains right after the servers on a
 * stop signal (new submissions rejected, queued and running tasks finishing
 * until its deadline, then dropped, counted and logged), before any Shutdown
 * hook, and stops after the PostRun hooks of the classes using it.
 * @example
 * @Main({ name: 'app', commands, providers: [taskPool('jobs', { size: 4 })] })
 * class App {}
 * class Reports { constructor(@InjectPool('jobs') private readonly jobs: TaskPool) {} }
 */
export function taskPool(name: string, options: CodeOptions<TaskPoolOptions> = {}): PoolProvider<TaskPool> {
  return provider(
    name,
    (config, logger, registry, clock) =>
      new TaskPool(name, { ...options, ...poolSettings(name, config, options), logger, registry, ...clocked(clock) }),
  );
}

/** The provider of a `CpuPool` (worker threads) named `name`, configured like `taskPool`. */
export function cpuPool<In = unknown, Out = unknown>(
  name: string,
  options: CodeOptions<CpuPoolOptions>,
): PoolProvider<CpuPool<In, Out>> {
  return provider(
    name,
    (config, logger, registry, clock) =>
      new CpuPool<In, Out>(name, {
        ...options,
        ...poolSettings(name, config, options),
        logger,
        registry,
        ...clocked(clock),
      }),
  );
}

function provider<T extends BoundedPool>(name: string, make: PoolProvider<T>['useFactory']): PoolProvider<T> {
  return {
    provide: poolToken(name),
    // Tokens only: declaring a pool loads neither prom-client nor its library.
    inject: [AppConfig, Logger, REGISTRY, Clock],
    useFactory: make,
    component: poolResource,
  };
}

/**
 * A pool as the lifecycle runs it. Drain (after the servers, on a stop signal) finishes what it
 * accepted until its deadline; stop drains too, for a run that ended by itself, then releases the
 * workers. Pools stop before Redis clients and databases, which their tasks may use.
 */
export function poolResource(pool: BoundedPool): Resource {
  return {
    label: `pool:${pool.name}`,
    order: -5,
    start: () => pool.start(),
    drain: (deadline) => pool.drain(deadline),
    stop: async (deadline) => {
      await pool.drain(deadline);
      await pool.stop(deadline);
    },
  };
}

function clocked(clock: Clock | undefined): { clock?: Clock } {
  return clock ? { clock } : {};
}

/**
 * Injects the pool `name` registered with `taskPool(name)` or `cpuPool(name)`.
 * @example
 * constructor(@InjectPool('jobs') private readonly jobs: TaskPool) {}
 */
export function InjectPool(name: string): ParameterDecorator & PropertyDecorator {
  return injectNamed('pool', name);
}
