import { type FrameworkSettings, LOG_LEVELS, MAX_TIMER_MS } from './defaults.js';
import type { NamedRules } from './named.js';

/** A check of one framework key: returns what is wrong, or undefined. */
type Rule = (value: unknown) => string | undefined;

const port: Rule = (v) =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? undefined : 'is not a port number (0-65535)';
const text: Rule = (v) => (typeof v === 'string' ? undefined : 'is not a string');
const flag: Rule = (v) => (typeof v === 'boolean' ? undefined : 'is not true or false');
const positiveMs: Rule = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? timerRange(v) : 'is not a positive number of milliseconds';
const nonNegativeMs: Rule = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? timerRange(v) : 'is not a number of milliseconds (0 or more)';
const bytes: Rule = (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'is not a positive number of bytes');
const share: Rule = (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? undefined : 'is not a share between 0 and 1');
const routePath: Rule = (v) =>
  typeof v === 'string' && (v === '' || /^\/[^\s?#]*$/.test(v))
    ? undefined
    : "is not '' (off) or a path starting with '/', e.g. '/openapi.json'";
const level: Rule = (v) =>
  (LOG_LEVELS as readonly unknown[]).includes(v) ? undefined : `is not a log level (${LOG_LEVELS.join(', ')})`;

/** What is wrong with a duration no timer can wait for, or undefined. */
export function timerRange(ms: number): string | undefined {
  return ms > MAX_TIMER_MS
    ? `is longer than ${MAX_TIMER_MS} ms (about 24.8 days), the longest a timer can wait`
    : undefined;
}

/** Every framework key under `dionysus` and its rule; unknown keys are errors. */
export const RULES: Record<string, Rule> = {
  'http.port': port,
  'http.host': text,
  'http.bodyLimitBytes': bytes,
  'http.keepAliveTimeoutMs': positiveMs,
  'http.headersTimeoutMs': positiveMs,
  'http.requestTimeoutMs': positiveMs,
  'http.accessLogSampleRate': share,
  'http.controlToken': text,
  'http.openapi.path': routePath,
  'grpc.port': port,
  'grpc.host': text,
  'grpc.maxReceiveMessageBytes': bytes,
  'grpc.maxSendMessageBytes': bytes,
  'grpc.keepaliveTimeMs': positiveMs,
  'grpc.keepaliveTimeoutMs': positiveMs,
  'grpc.defaultDeadlineMs': positiveMs,
  'grpc.accessLogSampleRate': share,
  'grpc.controlToken': text,
  'admin.port': port,
  'admin.host': text,
  'admin.minIntervalMs': nonNegativeMs,
  'admin.controlToken': text,
  'admin.profiles.maxSeconds': (v) =>
    Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 3600
      ? undefined
      : 'is not a whole number of seconds (1-3600)',
  'admin.profiles.maxHeapBytes': bytes,
  'log.level': level,
  'log.flushIntervalMs': nonNegativeMs,
  'tracing.enabled': flag,
  runtimeDir: text,
  'health.checkTimeoutMs': positiveMs,
  'health.minIntervalMs': nonNegativeMs,
  'health.heartbeatIntervalMs': positiveMs,
  'health.staleAfterIntervals': (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= 1 ? undefined : 'is not a number of intervals (1 or more)',
  'health.wedgedAfterMs': positiveMs,
  'health.trustLoopback': flag,
  'hooks.timeoutMs': positiveMs,
  'shutdown.drainDelayMs': nonNegativeMs,
  'shutdown.timeoutMs': positiveMs,
};

/**
 * Sections of named instances (`sql.<name>`, `redis.<name>`, `pool.<name>`), each checked by its
 * integration's rules; required only when the section is present.
 */
const NAMED: Record<string, () => NamedRules> = {
  sql: () => (require('../sql/settings.js') as typeof import('../sql/settings.js')).SQL_RULES,
  redis: () => (require('../redis/settings.js') as typeof import('../redis/settings.js')).REDIS_NAMED,
  pool: () => (require('../pool/settings.js') as typeof import('../pool/settings.js')).POOL_RULES,
};

export interface SettingProblem {
  /** Dotted key under `dionysus`, e.g. `http.port`. */
  key: string;
  value: unknown;
  problem: string;
}

/** Checks a `dionysus` section (or part of one); returns every problem. */
export function validateSection(section: unknown, prefix = ''): SettingProblem[] {
  if (section === undefined) return [];
  if (!isPlainObject(section)) return [{ key: prefix || '(section)', value: section, problem: 'is not an object' }];
  const problems: SettingProblem[] = [];
  for (const [name, value] of Object.entries(section)) {
    const key = prefix ? `${prefix}.${name}` : name;
    const rule = RULES[key];
    if (!prefix && Object.hasOwn(NAMED, key)) {
      const { sectionProblems } = require('./named.js') as typeof import('./named.js');
      problems.push(...sectionProblems(value, key, (NAMED[key] as () => NamedRules)()));
    } else if (rule) {
      const problem = rule(value);
      if (problem) problems.push({ key, value, problem });
    } else if (Object.keys(RULES).some((k) => k.startsWith(`${key}.`))) {
      problems.push(...validateSection(value, key));
    } else {
      problems.push({ key, value, problem: `is not a framework key (known here: ${knownUnder(prefix).join(', ')})` });
    }
  }
  return problems;
}

/** The names a section may hold: its keys and groups. */
function knownUnder(prefix: string): string[] {
  const under = prefix ? `${prefix}.` : '';
  const keys = [...Object.keys(RULES), ...(prefix ? [] : Object.keys(NAMED))].filter((k) => k.startsWith(under));
  return [...new Set(keys.map((k) => k.slice(under.length).split('.')[0] as string))];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep-merges plain objects; `over` wins. Neither input is changed. */
export function mergeDeep<T>(base: T, over: unknown): T {
  if (!isPlainObject(over)) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? mergeDeep(out[key], value) : value;
  }
  return out as T;
}

/** The value at a dotted key of plain data, or undefined. */
export function lookup(data: unknown, key: string): unknown {
  let cursor = data;
  for (const part of key.split('.')) {
    if (!isPlainObject(cursor)) return undefined;
    cursor = cursor[part];
  }
  return cursor;
}

export type { FrameworkSettings };
