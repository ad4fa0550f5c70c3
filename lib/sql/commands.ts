import type { Kysely } from 'kysely';
import { Command, Option, Run } from '../../decorators/index.js';
import { DionysusError } from '../errors.js';
import { SqlDatabase } from './database.js';
import { createMigration, migrateDown, migrateUp, migrationStatus } from './migrations.js';

/** The migrate task commands of database `name`: `migrate-up`, `-down`, `-status`, `-create` (`<name>-migrate-…` for others). */
export interface MigrateCommands {
  readonly up: new (...args: never[]) => object;
  readonly down: new (...args: never[]) => object;
  readonly status: new (...args: never[]) => object;
  readonly create: new (...args: never[]) => object;
}

/**
 * Task commands that run database `name`'s migrations: registered with the
 * app when it registers the database. `status` exits 1 while any migration is
 * pending (for CI and init containers).
 */
export function migrateCommands(name: string, database: InjectedDatabase): MigrateCommands {
  const prefix = name === 'main' ? 'migrate' : `${name}-migrate`;

  @Command(`${prefix}-up`, { description: `Apply pending migrations of the ${name} database` })
  class MigrateUpCommand {
    @Option('--to', { description: 'Apply up to and including this migration', valueName: 'NAME' })
    to?: string;

    constructor(@database.inject private readonly db: Kysely<unknown>) {}

    @Run()
    async run(): Promise<void> {
      const { db, migrations } = SqlDatabase.of(this.db);
      listed('applied', await migrateUp(db, migrations, { to: this.to }), 'nothing to apply');
    }
  }

  @Command(`${prefix}-down`, { description: `Revert the last migrations of the ${name} database` })
  class MigrateDownCommand {
    @Option('--steps', { description: 'How many migrations to revert (default 1)', valueName: 'N' })
    steps: number = 1;

    constructor(@database.inject private readonly db: Kysely<unknown>) {}

    @Run()
    async run(): Promise<void> {
      const { db, migrations } = SqlDatabase.of(this.db);
      listed('reverted', await migrateDown(db, migrations, { steps: this.steps }), 'nothing to revert');
    }
  }

  @Command(`${prefix}-status`, { description: `List migrations of the ${name} database; exits 1 when any is pending` })
  class MigrateStatusCommand {
    constructor(@database.inject private readonly db: Kysely<unknown>) {}

    @Run()
    async run(): Promise<void> {
      const { db, migrations } = SqlDatabase.of(this.db);
      const status = await migrationStatus(db, migrations);
      report(
        status.migrations
          .map((m) => `${m.executedAt ? `applied ${m.executedAt.toISOString()}` : 'pending'}  ${m.name}`)
          .join('\n') || 'no migrations',
      );
      if (status.pending.length > 0) throw pendingError(name, status.pending);
    }
  }

  @Command(`${prefix}-create`, { description: `Write a new migration file for the ${name} database` })
  class MigrateCreateCommand {
    @Option('--name', { description: 'What the migration does, e.g. create_todos', required: true, valueName: 'NAME' })
    migration!: string;

    @Option('--dir', { description: 'The migrations folder', valueName: 'DIR' })
    dir: string = 'migrations';

    @Run()
    async run(): Promise<void> {
      report(`created ${await createMigration(this.dir, this.migration)}`);
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

function listed(verb: string, names: readonly string[], none: string): void {
  report(names.length === 0 ? none : names.map((m) => `${verb} ${m}`).join('\n'));
}

function report(text: string): void {
  process.stdout.write(`${text}\n`);
}
