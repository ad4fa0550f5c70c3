import type { Kysely } from 'kysely';
import { Command, Option, Run } from '../../decorators/index.js';
import { Output } from '../cli/output.js';
import { DionysusError } from '../errors.js';
import { SqlDatabase } from './database.js';
import { createMigration, migrateDown, migrateUp, migrationStatus } from './migrations.js';

/** The migrate task commands of a database: `migrate up|down|status|create` (`migrate <name> …` for others). */
export interface MigrateCommands {
  readonly up: new (...args: never[]) => object;
  readonly down: new (...args: never[]) => object;
  readonly status: new (...args: never[]) => object;
  readonly create: new (...args: never[]) => object;
}

/** The command path of database `name`'s migrations: `migrate` for `main`, `migrate <name>` for another. */
export function migratePath(name: string): string {
  return name === 'main' ? 'migrate' : `migrate ${name}`;
}

/**
 * Task commands that run database `name`'s migrations: registered with the
 * app when it registers the database. `status` exits 1 while any migration is
 * pending (for CI and init containers). Each owns the migrations: the
 * database's start leaves them alone (`migrations.onStartup` does not apply).
 */
export function migrateCommands(name: string, database: InjectedDatabase): MigrateCommands {
  const path = migratePath(name);
  const of = (db: Kysely<unknown>): SqlDatabase<unknown> => SqlDatabase.of(db).forMigrations();

  @Command(`${path} up`, { description: `Apply pending migrations of the ${name} database` })
  class MigrateUpCommand {
    @Option('--to', { description: 'Apply up to and including this migration', valueName: 'NAME' })
    to?: string;

    readonly #database: SqlDatabase<unknown>;

    constructor(
      @database.inject db: Kysely<unknown>,
      private readonly out?: Output,
    ) {
      this.#database = of(db);
    }

    @Run()
    async run(): Promise<void> {
      const { db, migrations } = this.#database;
      listed(this.out, 'applied', await migrateUp(db, migrations, { to: this.to }), 'nothing to apply');
    }
  }

  @Command(`${path} down`, { description: `Revert the last migrations of the ${name} database` })
  class MigrateDownCommand {
    @Option('--steps', { description: 'How many migrations to revert (default 1)', valueName: 'N' })
    steps: number = 1;

    readonly #database: SqlDatabase<unknown>;

    constructor(
      @database.inject db: Kysely<unknown>,
      private readonly out?: Output,
    ) {
      this.#database = of(db);
    }

    @Run()
    async run(): Promise<void> {
      const { db, migrations } = this.#database;
      listed(this.out, 'reverted', await migrateDown(db, migrations, { steps: this.steps }), 'nothing to revert');
    }
  }

  @Command(`${path} status`, { description: `List migrations of the ${name} database; exits 1 when any is pending` })
  class MigrateStatusCommand {
    readonly #database: SqlDatabase<unknown>;

    constructor(
      @database.inject db: Kysely<unknown>,
      private readonly out?: Output,
    ) {
      this.#database = of(db);
    }

    @Run()
    async run(): Promise<void> {
      const { db, migrations } = this.#database;
      const status = await migrationStatus(db, migrations);
      report(
        this.out,
        status.migrations
          .map((m) => `${m.executedAt ? `applied ${m.executedAt.toISOString()}` : 'pending'}  ${m.name}`)
          .join('\n') || 'no migrations',
      );
      if (status.pending.length > 0) throw pendingError(name, status.pending);
    }
  }

  // Writes a file only: it asks for no database, so it builds none (and needs none reachable).
  @Command(`${path} create`, { description: `Write a new migration file for the ${name} database` })
  class MigrateCreateCommand {
    @Option('NAME', { description: 'What the migration does, e.g. create_todos', required: true })
    migration!: string;

    @Option('--dir', { description: 'The migrations folder', valueName: 'DIR' })
    dir: string = 'migrations';

    constructor(private readonly out?: Output) {}

    @Run()
    async run(): Promise<void> {
      report(this.out, `created ${await createMigration(this.dir, this.migration)}`);
    }
  }

  return { up: MigrateUpCommand, down: MigrateDownCommand, status: MigrateStatusCommand, create: MigrateCreateCommand };
}

/** How the commands get their database's Kysely instance from the container: a parameter decorator for its token. */
export interface InjectedDatabase {
  readonly inject: ParameterDecorator;
}

/** The error `status` ends with while migrations are pending: exit code 1, naming them. */
export function pendingError(name: string, pending: readonly string[]): DionysusError {
  return new DionysusError(
    'run',
    `sql:${name}: ${pending.length} migration${pending.length === 1 ? '' : 's'} pending (${pending.join(', ')})`,
    { expose: true },
  );
}

function listed(out: Output | undefined, verb: string, names: readonly string[], none: string): void {
  report(out, names.length === 0 ? none : names.map((m) => `${verb} ${m}`).join('\n'));
}

function report(out: Output | undefined, text: string): void {
  (out ?? process.stdout).write(`${text}\n`);
}
