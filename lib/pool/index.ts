/**
 * `dionysus/pool`: bounded task pools with a drain deadline and metrics.
 * Importing it loads neither p-queue nor piscina; a pool loads its library when it is built.
 */

export type { DrainReport, PoolErrorHandler, PoolLogger, PoolOptions, SubmitOptions } from './core.js';
export { CpuPool, type CpuPoolOptions, type CpuRunOptions } from './cpu-pool.js';
export {
  PoolClosedError,
  PoolDroppedError,
  PoolError,
  PoolFullError,
  type PoolRefusal,
  PoolTimeoutError,
} from './errors.js';
export type { TaskOutcome } from './metrics.js';
export { cpuPool, InjectPool, type PoolProvider, poolToken, taskPool } from './provider.js';
export { type ConfigSource, POOL_DEFAULTS, type PoolSettings, poolSettings } from './settings.js';
export { type Task, TaskPool, type TaskPoolOptions } from './task-pool.js';
