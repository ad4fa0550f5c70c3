import { isAbsolute, join } from 'node:path';
import {
  type ConfigReader,
  configuredLayer,
  flag,
  ms,
  type NamedRules,
  type Rule,
  readInstance,
  sectionProblems,
  shown,
} from '../config/named.js';
import type { SettingProblem } from '../config/validate.js';

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

const count: Rule = (v) =>
  Number.isInteger(v) && (v as number) >= 1 ? undefined : 'is not a whole number (1 or more)';
/** The keys of `dionysus.sql.<name>`. Finite by design: pg's own wait for a connection is forever. */
export const SQL_RULES: NamedRules = {
  what: 'database setting',
  instances: 'databases',
  rules: {
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
    'health.critical': flag,
    'migrations.onStartup': (v) =>
      (ON_STARTUP as readonly unknown[]).includes(v) ? undefined : `is not one of ${ON_STARTUP.join(', ')}`,
  },
};

/** Every setting of a database, dotted under `dionysus.sql.<name>` (`health.intervalMs`). */
export const SQL_SETTING_KEYS: readonly string[] = Object.keys(SQL_RULES.rules);

/** Every problem of a `sql` section (`{ <name>: { url, … } }`), keys prefixed with `prefix` (e.g. `sql`). */
export function sqlProblems(section: unknown, prefix = 'sql'): SettingProblem[] {
  return sectionProblems(section, prefix, SQL_RULES);
}

export type { ConfigReader };

/** Settings given in code, `sqlDatabase(name, { settings })`: any subset of `SqlSettings`. */
export type SqlCodeSettings = {
  readonly [K in keyof SqlSettings]?: SqlSettings[K] extends object ? Partial<SqlSettings[K]> : SqlSettings[K];
};

/**
 * The settings of database `name`: its defaults, `code` (what the app gives
 * `sqlDatabase`) over them, `dionysus.sql.<name>` over that, then
 * `DATABASE_URL` for `main`: configuration can change what code chose. Throws
 * one error naming every bad key and where it came from.
 */
export function readSqlSettings(
  config: ConfigReader,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  code: SqlCodeSettings | undefined = undefined,
): SqlSettings {
  const fromEnv = name === 'main' && env.DATABASE_URL ? env.DATABASE_URL : undefined;
  return readInstance(sqlDefaults(name), `sql.${name}`, SQL_RULES, [
    {
      value: code,
      describe: (p) =>
        `sqlDatabase('${name}') option settings.${p.key.replace(/^sql\.[^.]+\./, '')}: ${shown(p)} ${p.problem}`,
    },
    configuredLayer(config, 'sql', name),
    {
      value: fromEnv === undefined ? undefined : { url: fromEnv },
      describe: (p) => `DATABASE_URL: ${shown(p)} ${p.problem} (from the environment)`,
    },
  ]);
}

/** The file of a SQLite target, absolute, resolved against `cwd`. */
export function sqliteFile(file: string, cwd = process.cwd()): string {
  return file === ':memory:' || isAbsolute(file) ? file : join(cwd, file);
}
