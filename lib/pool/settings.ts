import {
  type ConfigReader,
  configuredLayer,
  flag,
  type Layer,
  ms,
  type NamedRules,
  type Rule,
  readInstance,
  shown,
} from '../config/named.js';
import { lookup } from '../config/validate.js';

/** One pool's settings: `dionysus.pool.<name>` in configuration, over the options given in code. */
export interface PoolSettings {
  /** Tasks that run at once (a CPU pool: worker threads). @default 10 */
  size: number;
  /** Tasks accepted beyond those running, waiting for a worker; 0 accepts a task only when a worker is free. @default 1000 */
  maxQueue: number;
  /** When the queue is full, reject a submission at once (`PoolFullError`) instead of waiting for room. @default false */
  nonBlocking: boolean;
  /** How long a blocking submission waits for room in the queue before it fails with `PoolTimeoutError`. @default 5000 */
  submitTimeoutMs: number;
  /**
   * How long a drain lets queued and running tasks finish (also bounded by the stop budget);
   * then their AbortSignals fire and what is left is dropped. @default 10000
   */
  drainTimeoutMs: number;
}

/** The defaults of every pool, in one place; the README's pool table is checked against this object. */
export const POOL_DEFAULTS: Readonly<PoolSettings> = Object.freeze({
  size: 10,
  maxQueue: 1000,
  nonBlocking: false,
  submitTimeoutMs: 5000,
  drainTimeoutMs: 10_000,
});

/** The loaded configuration as `AppConfig` gives it (a plain object of values works too). */
export type ConfigSource = ConfigReader;

const count: Rule = (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'is not a whole number above 0');
const countOrZero: Rule = (v) =>
  Number.isInteger(v) && (v as number) >= 0 ? undefined : 'is not a whole number (0 or more)';

/** The keys of `dionysus.pool.<name>`, for the configuration check. */
export const POOL_RULES: NamedRules = {
  what: 'framework key',
  instances: 'pools',
  rules: { size: count, maxQueue: countOrZero, nonBlocking: flag, submitTimeoutMs: ms, drainTimeoutMs: ms },
};

/**
 * The settings of the pool `name`: the defaults, then `options` from code,
 * then `dionysus.pool.<name>` from configuration. A bad or unknown key is an
 * error naming it, its value and the file it came from.
 * @example
 * const settings = poolSettings('jobs', appConfig, { size: 4 });
 */
export function poolSettings(
  name: string,
  config?: ConfigSource | Record<string, unknown>,
  options: Partial<PoolSettings> = {},
): PoolSettings {
  const coded: Layer = {
    value: definedOnly(options),
    describe: (p) => `dionysus.${p.key}: ${shown(p)} ${p.problem} (from the options of pool '${name}')`,
  };
  return readInstance({ ...POOL_DEFAULTS }, `pool.${name}`, POOL_RULES, [
    coded,
    configuredLayer(asSource(config), 'pool', name),
  ]);
}

function asSource(config: ConfigSource | Record<string, unknown> | undefined): ConfigSource | undefined {
  if (config === undefined || (typeof config.has === 'function' && typeof config.get === 'function')) {
    return config as ConfigSource | undefined;
  }
  return { has: (key) => lookup(config, key) !== undefined, get: <T>(key: string) => lookup(config, key) as T };
}

/** The settings among `options` (which may hold a pool's other options too), without undefined ones. */
function definedOnly(options: Partial<PoolSettings>): Partial<PoolSettings> {
  return Object.fromEntries(
    Object.entries(options).filter(([key, value]) => value !== undefined && Object.hasOwn(POOL_DEFAULTS, key)),
  );
}
