import { isAbsolute, join } from 'node:path';
import { isPlainObject, mergeDeep, type SettingProblem, timerRange } from '../config/validate.js';
import { DionysusError } from '../errors.js';

/** What `migrations.onStartup` does when a database starts. */
export type OnStartup = 'check' | 'apply' | 'off';
export const ON_STARTUP: readonly OnStartup[] = ['check', 'apply', 'off'];

/** One database's settings: the `dionysus.sql.<name>` key of node-config. */
export interface SqlSettings {
  /**
   * `sqlite:<path>` (relative to the working directory), `sqlite::memory:` or
   * `postgres://user@host:port/db` (`postgresql://` too). `DATABASE_URL` sets it for `main`.
   * @default 'sqlite:data/<name>.sqlite'
   */
  url: string;
  /** Most connections the pool opens (SQLite: always 1). @default 10 */
  max: number;
  /** Longest wait for a free pool connection (pg `connectionTimeoutMillis`; never unbounded). @default 5000 */
  acquireTimeoutMs: number;
  /** Longest a statement runs (pg `statement_timeout`; SQLite's busy timeout). @default 30000 */
  statementTimeoutMs: number;
  /** An idle pool connection closes after this. @default 10000 */
  idleTimeoutMs: number;
  health: {
    /** How often the background ping runs on the pool. @default 5000 */
    intervalMs: number;
    /** Deadline of one ping. @default 1000 */
    timeoutMs: number;
    /** `false`: the check is reported but never fails the startup or readiness probe. @default true */
    critical: boolean;
  };
  migrations: {
    /** `check`: pending migrations fail the startup probe; `apply`: applied at start; `off`. @default 'check' */
    onStartup: OnStartup;
  };
}

/** The defaults of a database called `name`, in one place; the README table is checked against them. */
export function sqlDefaults(name: string): SqlSettings {
  return {
    url: `sqlite:data/${name}.sqlite`,
    max: 10,
    acquireTimeoutMs: 5_000,
    statementTimeoutMs: 30_000,
    idleTimeoutMs: 10_000,
    health: { intervalMs: 5_000, timeoutMs: 1_000, critical: true },
    migrations: { onStartup: 'check' },
  };
}

/** Where a database lives, parsed from its URL. */
export type SqlTarget =
  | { readonly system: 'sqlite'; readonly file: string }
  | { readonly system: 'postgresql'; readonly url: string };

export const URL_FORMS = '`sqlite:<path>`, `sqlite::memory:` or `postgres://user@host:port/database`';

/** The target of a URL, or what is wrong with it. */
export function parseSqlUrl(url: unknown): SqlTarget | string {
  if (typeof url !== 'string' || url === '') return `is not a database URL (${URL_FORMS})`;
  if (url === 'sqlite::memory:') return { system: 'sqlite', file: ':memory:' };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return file === '' ? `names no file (${URL_FORMS})` : { system: 'sqlite', file };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch {
      return `is not a valid PostgreSQL URL (${URL_FORMS})`;
    }
    return { system: 'postgresql', url };
  }
  return `is not a database URL (${URL_FORMS})`;
}

type Rule = (value: unknown) => string | undefined;
const count: Rule = (v) =>
  Number.isInteger(v) && (v as number) >= 1 ? undefined : 'is not a whole number (1 or more)';
// Finite by design: an unbounded wait for a connection hides an outage (pg's own default is 0, forever).
const ms: Rule = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? timerRange(v) : 'is not a positive number of milliseconds';
const RULES: Record<string, Rule> = {
  url: (v) => {
    const target = parseSqlUrl(v);
    return typeof target === 'string' ? target : undefined;
  },
  max: count,
  acquireTimeoutMs: ms,
  statementTimeoutMs: ms,
  idleTimeoutMs: ms,
  'health.intervalMs': ms,
  'health.timeoutMs': ms,
  'health.critical': (v) => (typeof v === 'boolean' ? undefined : 'is not true or false'),
  'migrations.onStartup': (v) =>
    (ON_STARTUP as readonly unknown[]).includes(v) ? undefined : `is not one of ${ON_STARTUP.join(', ')}`,
};

/** Every setting of a database, dotted under `dionysus.sql.<name>` (`health.intervalMs`). */
export const SQL_SETTING_KEYS: readonly string[] = Object.keys(RULES);

/** Every problem of a `sql` section (`{ <name>: { url, … } }`), keys prefixed with `prefix` (e.g. `sql`). */
export function sqlProblems(section: unknown, prefix = 'sql'): SettingProblem[] {
  if (!isPlainObject(section))
    return [{ key: prefix, value: section, problem: 'is not an object of databases by name' }];
  return Object.entries(section).flatMap(([name, value]) => databaseProblems(value, `${prefix}.${name}`));
}

function databaseProblems(value: unknown, prefix: string, path = ''): SettingProblem[] {
  if (!isPlainObject(value)) return [{ key: `${prefix}${path ? `.${path}` : ''}`, value, problem: 'is not an object' }];
  const problems: SettingProblem[] = [];
  for (const [part, inner] of Object.entries(value)) {
    const key = path ? `${path}.${part}` : part;
    const rule = RULES[key];
    if (rule) {
      const problem = rule(inner);
      if (problem) problems.push({ key: `${prefix}.${key}`, value: inner, problem });
    } else if (Object.keys(RULES).some((k) => k.startsWith(`${key}.`))) {
      problems.push(...databaseProblems(inner, prefix, key));
    } else {
      const under = path ? `${path}.` : '';
      const known = new Set(
        Object.keys(RULES)
          .filter((k) => k.startsWith(under))
          .map((k) => k.slice(under.length).split('.')[0]),
      );
      problems.push({
        key: `${prefix}.${key}`,
        value: inner,
        problem: `is not a database setting (known here: ${[...known].join(', ')})`,
      });
    }
  }
  return problems;
}

/** Configuration as the app sees it (`AppConfig`): values by dotted key, and where a key came from. */
export interface ConfigReader {
  has(key: string): boolean;
  get<T = unknown>(key: string): T;
  sourceOf?(key: string): string | undefined;
}

/**
 * The settings of database `name`: its defaults, `dionysus.sql.<name>` over
 * them, then `DATABASE_URL` for `main`. Throws one error naming every bad key
 * and where it came from.
 */
export function readSqlSettings(config: ConfigReader, name: string, env: NodeJS.ProcessEnv = process.env): SqlSettings {
  const key = `dionysus.sql.${name}`;
  const own = config.has(key) ? config.get(key) : undefined;
  const problems = own === undefined ? [] : databaseProblems(own, `sql.${name}`);
  const messages = problems.map(
    ({ key, value, problem }) =>
      `dionysus.${key}: ${JSON.stringify(value)} ${problem} (from ${config.sourceOf?.(`dionysus.${key}`) ?? 'configuration'})`,
  );
  let settings = mergeDeep(sqlDefaults(name), own);
  const fromEnv = name === 'main' ? env.DATABASE_URL : undefined;
  if (fromEnv !== undefined && fromEnv !== '') {
    const target = parseSqlUrl(fromEnv);
    if (typeof target === 'string')
      messages.push(`DATABASE_URL: ${JSON.stringify(fromEnv)} ${target} (from the environment)`);
    else settings = { ...settings, url: fromEnv };
  }
  if (messages.length > 0) {
    throw new DionysusError('config', `invalid configuration:\n${messages.map((m) => `  - ${m}`).join('\n')}`, {
      expose: true,
    });
  }
  return settings;
}

/** The file of a SQLite target, absolute, resolved against `cwd`. */
export function sqliteFile(file: string, cwd = process.cwd()): string {
  return file === ':memory:' || isAbsolute(file) ? file : join(cwd, file);
}
