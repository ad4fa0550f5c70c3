/**
 * dionysus/sql: a Kysely<DB> on SQLite or PostgreSQL as a provider that owns
 * its pool's start, health checks, drain and stop. Importing this module
 * loads no driver: kysely, pg and better-sqlite3 load when a database is made.
 */
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { AppConfig } from '../config/app-config.js';
import { injectNamed, namedToken } from '../integrations/tokens.js';
import { Clock } from '../lifecycle/clock.js';
import { REGISTRY } from '../telemetry/tokens.js';
import { type MigrateCommands, migrateCommands } from './commands.js';
import { SqlDatabase } from './database.js';
import type { Migrations } from './migrations.js';
import { readSqlSettings, type SqlCodeSettings } from './settings.js';

export { type InjectedDatabase, type MigrateCommands, migrateCommands, pendingError } from './commands.js';
export { SqlDatabase, type SqlDatabaseOptions, type SqlHealth } from './database.js';
export type { QueryObserver } from './instrument.js';
export { SqlMetrics } from './metrics.js';
export {
  createMigration,
  type MigrationState,
  type MigrationStatus,
  type Migrations,
  migrateDown,
  migrateUp,
  migrationName,
  migrationStatus,
  type SqlMigration,
} from './migrations.js';
export {
  type ConfigReader,
  type OnStartup,
  parseSqlUrl,
  readSqlSettings,
  SQL_SETTING_KEYS,
  type SqlCodeSettings,
  type SqlSettings,
  type SqlTarget,
  sqlDefaults,
  sqlProblems,
} from './settings.js';

type Instrument = typeof import('./instrument.js');
// Required on call: instrument.js imports @opentelemetry/api, which importing dionysus/sql must not load.
const instrument = (): Instrument => require('./instrument.js') as Instrument;

/** Wraps a Kysely dialect so every query has metrics and a span (what `sqlDatabase` does). */
export function instrumentDialect(
  ...args: Parameters<Instrument['instrumentDialect']>
): ReturnType<Instrument['instrumentDialect']> {
  return instrument().instrumentDialect(...args);
}

/** The operation of a statement (`SELECT`, `INSERT`…), the bounded label of its metrics. */
export function operationOf(...args: Parameters<Instrument['operationOf']>): ReturnType<Instrument['operationOf']> {
  return instrument().operationOf(...args);
}

/** The container token of database `name`'s Kysely instance. */
export function sqlToken(name: string): symbol {
  return namedToken('sql', name);
}

export interface SqlDatabaseDefinition {
  /** e.g. `migrations: { '20260101120000_create_todos': createTodos }`, imported statically. */
  readonly migrations?: Migrations;
  /**
   * The app's own defaults for this database, under `dionysus.sql.<name>` and
   * `DATABASE_URL` (configuration changes what code chose), checked by the same rules.
   * @example
   * settings: { migrations: { onStartup: 'apply' } }
   */
  readonly settings?: SqlCodeSettings;
}

/** A provider made by `sqlDatabase`: the container calls `useFactory` with the `inject` tokens. */
export interface SqlProvider<DB> {
  readonly provide: symbol;
  readonly inject: readonly [typeof AppConfig, typeof REGISTRY, typeof Clock];
  readonly useFactory: (config: AppConfig, registry: Registry, clock?: Clock) => Kysely<DB>;
  /** The `SqlDatabase` owning a Kysely instance it made: started, checked, drained and stopped by the lifecycle. */
  readonly component: (db: Kysely<DB>) => SqlDatabase<DB>;
  /** `migrate up|down|status|create` for this database (`migrate <name> …` for a database other than `main`). */
  readonly commands: readonly (new (
    ...args: never[]
  ) => object)[];
}

/**
 * Registers database `name` (settings at `dionysus.sql.<name>`): inject its
 * Kysely<DB> with `@InjectSql(name)`. When the running command builds it, the
 * lifecycle starts its `SqlDatabase` (connect, ping, `migrations.onStartup`)
 * before the PreRun hooks of the classes using it, registers its `sql:<name>`
 * checks on startup and readiness, and ends its pool after their PostRun
 * hooks; the app gets the `migrate` commands.
 * @example
 * @Main({ name: 'app', commands, providers: [sqlDatabase<DB>('main', { migrations })] })
 */
export function sqlDatabase<DB>(name: string, definition: SqlDatabaseDefinition = {}): SqlProvider<DB> {
  const commands = sqlMigrateCommands(name);
  return {
    provide: sqlToken(name),
    // Tokens only: declaring a database loads neither prom-client nor a driver (--help, the probes).
    inject: [AppConfig, REGISTRY, Clock],
    useFactory: (config, registry, clock) => {
      const settings = readSqlSettings(config, name, process.env, definition.settings);
      const options = { registry, ...(clock ? { clock } : {}) };
      const migrations = definition.migrations;
      return new SqlDatabase<DB>(name, settings, migrations ? { ...options, migrations } : options).db;
    },
    component: (db) => SqlDatabase.of(db),
    commands: [commands.up, commands.down, commands.status, commands.create],
  };
}

/**
 * Injects database `name`'s Kysely<DB> into a constructor parameter.
 * @example
 * constructor(@InjectSql('main') private readonly db: Kysely<DB>) {}
 */
export function InjectSql(name = 'main'): ParameterDecorator & PropertyDecorator {
  return injectNamed('sql', name);
}

/** The migrate commands of database `name`, reaching it through its Kysely token. */
export function sqlMigrateCommands(name = 'main'): MigrateCommands {
  return migrateCommands(name, { inject: InjectSql(name) });
}
