import { Registry } from 'prom-client';
import { AppConfig } from '../config/app-config.js';
import { Logger } from '../telemetry/tokens.js';
import { CpuPool, type CpuPoolOptions } from './cpu-pool.js';
import { poolSettings } from './settings.js';
import { TaskPool, type TaskPoolOptions } from './task-pool.js';

/** The container token of the pool `name` (what `InjectPool(name)` asks for). */
export function poolToken(name: string): symbol {
  return Symbol.for(`dionysus.pool:${name}`);
}

/** A `useFactory` provider: `@Main({ providers: [taskPool('jobs')] })`. */
export interface PoolProvider<T> {
  readonly provide: symbol;
  readonly useFactory: (config: AppConfig, logger: Logger, registry: Registry) => T;
  readonly inject: readonly [typeof AppConfig, typeof Logger, typeof Registry];
}

type CodeOptions<O> = Omit<O, 'registry' | 'logger'>;

/**
 * The provider of a `TaskPool` named `name`: its settings are `options`
 * under `dionysus.pool.<name>` from configuration; its metrics go to the
 * command's registry and what it drops to the command's logger.
 * @example
 * @Main({ name: 'app', commands, providers: [taskPool('jobs', { size: 4 })] })
 * class App {}
 * class Reports { constructor(@InjectPool('jobs') private readonly jobs: TaskPool) {} }
 */
export function taskPool(name: string, options: CodeOptions<TaskPoolOptions> = {}): PoolProvider<TaskPool> {
  return {
    provide: poolToken(name),
    useFactory: (config, logger, registry) =>
      new TaskPool(name, { ...options, ...poolSettings(name, config, options), logger, registry }),
    inject: [AppConfig, Logger, Registry],
  };
}

/** The provider of a `CpuPool` (worker threads) named `name`, configured like `taskPool`. */
export function cpuPool<In = unknown, Out = unknown>(
  name: string,
  options: CodeOptions<CpuPoolOptions>,
): PoolProvider<CpuPool<In, Out>> {
  return {
    provide: poolToken(name),
    useFactory: (config, logger, registry) =>
      new CpuPool<In, Out>(name, { ...options, ...poolSettings(name, config, options), logger, registry }),
    inject: [AppConfig, Logger, Registry],
  };
}

/**
 * Injects the pool `name` registered with `taskPool(name)` or `cpuPool(name)`.
 * @example
 * constructor(@InjectPool('jobs') private readonly jobs: TaskPool) {}
 */
export function InjectPool(name: string): ParameterDecorator & PropertyDecorator {
  return (target: object, property: string | symbol | undefined, index?: number) => {
    // inversify loads with the app, never on the probe path.
    const { inject } = require('inversify') as typeof import('inversify');
    (inject(poolToken(name)) as (t: object, p: string | symbol | undefined, i?: number) => void)(
      target,
      property,
      index,
    );
  };
}
