// Settings of one Redis client: defaults, rules and the reader. Loads no driver: config validation requires it.
import {
  type ConfigReader,
  configuredLayer,
  flag,
  type Layer,
  ms,
  type NamedRules,
  type Rule,
  readInstance,
  redactUrl,
  sectionProblems,
  shown,
} from '../config/named.js';
import type { SettingProblem } from '../config/validate.js';

/** How the client reaches Redis. */
export const REDIS_MODES = ['standalone', 'cluster', 'sentinel'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

/** One client's settings: `dionysus.redis.<name>` merged over `redisDefaults()`. */
export interface RedisSettings {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS); `REDIS_URL` sets the `main` client's. @default 'redis://127.0.0.1:6379' */
  url: string;
  /** `standalone`; `cluster` (root nodes from `nodes`, else `url`); `sentinel` (sentinels in `nodes`, master `sentinelName`). @default 'standalone' */
  mode: RedisMode;
  /** Cluster root nodes or sentinels, as `redis://host:port` URLs. @default [] */
  nodes: string[];
  /** The master's name, for `mode: sentinel`. @default '' */
  sentinelName: string;
  /** A start that has not connected by then fails, naming the URL (without its password). @default 5000 */
  connectTimeoutMs: number;
  /**
   * A command waiting this long to be sent rejects; so does one whose connection stayed silent this
   * long (the socket's idle timeout; the health PING keeps an idle connection from reaching it, so
   * `health.intervalMs` must be shorter). Blocking commands longer than this need a client of their own.
   * @default 2000
   */
  commandTimeoutMs: number;
  /** How long stop waits for pending replies (`close()`) before the connection is destroyed. @default 2000 */
  closeTimeoutMs: number;
  reconnect: {
    /** First delay after a lost connection; doubles per attempt. @default 100 */
    initialDelayMs: number;
    /** Longest delay between attempts; attempts go on while the client is started. @default 2000 */
    maxDelayMs: number;
  };
  /**
   * Queue commands while disconnected and send them on reconnect. Off, a command during an
   * outage rejects at once (an outage surfaces as errors, not as a growing queue). @default false
   */
  offlineQueue: boolean;
  /** Most commands waiting to be sent or answered; past it a command rejects. @default 10000 */
  maxQueueLength: number;
  health: {
    /** Background PING on the existing connection, this often; probes read its last result. @default 1000 */
    intervalMs: number;
    /** A PING unanswered this long fails the check. @default 500 */
    timeoutMs: number;
    /** A non-critical client is reported (metrics, check name) but never fails a probe. @default true */
    critical: boolean;
  };
}

export function redisDefaults(): RedisSettings {
  return {
    url: 'redis://127.0.0.1:6379',
    mode: 'standalone',
    nodes: [],
    sentinelName: '',
    connectTimeoutMs: 5_000,
    commandTimeoutMs: 2_000,
    closeTimeoutMs: 2_000,
    reconnect: { initialDelayMs: 100, maxDelayMs: 2_000 },
    offlineQueue: false,
    maxQueueLength: 10_000,
    health: { intervalMs: 1_000, timeoutMs: 500, critical: true },
  };
}

const url: Rule = (v) => redisUrlProblem(v);
const count: Rule = (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'is not a positive whole number');

/** Every key under `dionysus.redis.<name>` and its rule. */
export const REDIS_RULES: Record<string, Rule> = {
  url,
  mode: (v) =>
    (REDIS_MODES as readonly unknown[]).includes(v) ? undefined : `is not one of ${REDIS_MODES.join(', ')}`,
  nodes: (v) =>
    Array.isArray(v) ? v.map(redisUrlProblem).find((p) => p !== undefined) : 'is not a list of redis:// URLs',
  sentinelName: (v) => (typeof v === 'string' ? undefined : 'is not a string'),
  connectTimeoutMs: ms,
  commandTimeoutMs: ms,
  closeTimeoutMs: ms,
  'reconnect.initialDelayMs': ms,
  'reconnect.maxDelayMs': ms,
  offlineQueue: flag,
  maxQueueLength: count,
  'health.intervalMs': ms,
  'health.timeoutMs': ms,
  'health.critical': flag,
};

/** The keys of `dionysus.redis.<name>`, for the configuration check. */
export const REDIS_NAMED: NamedRules = { rules: REDIS_RULES, what: 'redis client key', instances: 'clients' };

/** What is wrong with a Redis URL, or undefined. */
export function redisUrlProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'is not a redis:// or rediss:// URL';
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return 'is not a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379)';
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    return `has scheme ${parsed.protocol} instead of redis: or rediss:`;
  if (!parsed.hostname) return 'names no host (e.g. redis://127.0.0.1:6379)';
  return undefined;
}

export { redactUrl };

/** Checks `dionysus.redis` (clients by name); returns every problem, keys relative to `dionysus`. */
export function redisSectionProblems(section: unknown): SettingProblem[] {
  return section === undefined ? [] : sectionProblems(section, 'redis', REDIS_NAMED);
}

/** The configuration as the reader needs it: `AppConfig` fits. */
export type ConfigSource = ConfigReader;

/**
 * One client's settings: `dionysus.redis.<name>` over the defaults, `REDIS_URL` over the `main`
 * client's url, and `overrides` (code) over both. Throws naming each bad key, its value and source.
 */
export function readRedisSettings(
  config: ConfigSource,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: unknown = undefined,
): RedisSettings {
  const key = `dionysus.redis.${name}`;
  const fromEnv = name === 'main' && env.REDIS_URL ? env.REDIS_URL : undefined;
  const layers: Layer[] = [
    configuredLayer(config, 'redis', name),
    {
      value: fromEnv === undefined ? undefined : { url: fromEnv },
      describe: (p) => `REDIS_URL: ${shown(p)} ${p.problem} (from the environment)`,
    },
    { value: overrides, describe: (p) => `redisClient('${name}') option ${p.key}: ${shown(p)} ${p.problem}` },
  ];
  return readInstance(redisDefaults(), `redis.${name}`, REDIS_NAMED, layers, (settings) => {
    const messages: string[] = [];
    if (settings.mode === 'sentinel' && !settings.sentinelName)
      messages.push(`${key}.sentinelName is empty: mode sentinel needs the master's name`);
    if (settings.mode === 'sentinel' && settings.nodes.length === 0)
      messages.push(`${key}.nodes is empty: mode sentinel needs the sentinels' URLs`);
    if (settings.health.timeoutMs > settings.health.intervalMs)
      messages.push(
        `${key}.health.timeoutMs (${settings.health.timeoutMs} ms) is longer than health.intervalMs (${settings.health.intervalMs} ms): pings would overlap; shorten it or raise the interval`,
      );
    // The reply wait is the socket's idle timeout: the PING must keep an idle connection below it.
    if (settings.health.intervalMs >= settings.commandTimeoutMs)
      messages.push(
        `${key}.health.intervalMs (${settings.health.intervalMs} ms) is not shorter than commandTimeoutMs (${settings.commandTimeoutMs} ms), which also closes a connection idle that long; shorten the interval or raise commandTimeoutMs`,
      );
    return messages;
  });
}
