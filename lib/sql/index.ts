/**
 * dionysus/sql: a Kysely<DB> on SQLite or PostgreSQL as a provider that owns
 * its pool's start, health checks, drain and stop. Importing this module
 * loads no driver: kysely, pg and better-sqlite3 load when a database is made.
 */
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { AppConfig } from '../config/app-config.js';
import { type MigrateCommands, migrateCommands } from './commands.js';
import { SqlDatabase } from './database.js';
import type { Migrations } from './migrations.js';
import { readSqlSettings } from './settings.js';

export { type InjectedDatabase, type MigrateCommands, migrateCommands, pendingError } from './commands.js';
export { SqlDatabase, type SqlDatabaseOptions, type SqlHealth } from './database.js';
export { instrumentDialect, operationOf, type QueryObserver } from './instrument.js';
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
  type SqlSettings,
  type SqlTarget,
  sqlDefaults,
  sqlProblems,
} from './settings.js';

/** The container token of database `name`'s Kysely instance. */
export function sqlToken(name: string): symbol {
  return Symbol.for(`dionysus.sql:${name}`);
}

export interface SqlDatabaseDefinition {
  /** e.g. `migrations: { '20260101120000_create_todos': createTodos }`, imported statically. */
  readonly migrations?: Migrations;
}

/** A provider made by `sqlDatabase`: the container calls `useFactory` with the `inject` tokens. */
export interface SqlProvider<DB> {
  readonly provide: symbol;
  readonly inject: readonly [typeof AppConfig, typeof Registry];
  readonly useFactory: (config: AppConfig, registry: Registry) => Kysely<DB>;
  /** The database's name, `dionysus.sql.<name>`. */
  readonly sqlDatabase: string;
}

/**
 * Registers database `name` (settings at `dionysus.sql.<name>`): inject its
 * Kysely<DB> with `@InjectSql(name)`. `SqlDatabase.of(db)` is its owner, with
 * the `start`/`drain`/`stop` the lifecycle calls and the `sql:<name>` checks.
 * @example
 * @Main({ name: 'app', commands, providers: [sqlDatabase<DB>('main', { migrations })] })
 */
export function sqlDatabase<DB>(name: string, definition: SqlDatabaseDefinition = {}): SqlProvider<DB> {
  return {
    provide: sqlToken(name),
    // Read when the container builds the provider: prom-client stays unloaded for --help and the probes.
    get inject() {
      return [AppConfig, (require('prom-client') as typeof import('prom-client')).Registry] as const;
    },
    useFactory: (config, registry) => {
      const settings = readSqlSettings(config, name);
      const options = definition.migrations ? { migrations: definition.migrations, registry } : { registry };
      return new SqlDatabase<DB>(name, settings, options).db;
    },
    sqlDatabase: name,
  };
}

/**
 * Injects database `name`'s Kysely<DB> into a constructor parameter.
 * @example
 * constructor(@InjectSql('main') private readonly db: Kysely<DB>) {}
 */
export function InjectSql(name = 'main'): ParameterDecorator & PropertyDecorator {
  return (target: object, property: string | symbol | undefined, index?: number) => {
    // inversify loads with the app, never on the probe path.
    const { inject } = require('inversify') as typeof import('inversify');
    (inject(sqlToken(name)) as (t: object, p: string | symbol | undefined, i?: number) => void)(
      target,
      property,
      index,
    );
  };
}

/** The migrate commands of database `name`, reaching it through its Kysely token. */
export function sqlMigrateCommands(name = 'main'): MigrateCommands {
  const injectDb = InjectSql(name);
  return migrateCommands(name, { inject: (target, property, index) => injectDb(target, property, index) });
}
