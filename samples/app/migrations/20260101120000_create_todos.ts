import type { SqlMigration } from 'dionysus/sql';
import type { Kysely } from 'kysely';

/** The todos table, on SQLite and on PostgreSQL alike: `done` is 0 or 1 (SQLite has no boolean). */
export const createTodos: SqlMigration = {
  async up(db: Kysely<unknown>) {
    // PostgreSQL numbers rows with serial; SQLite's integer primary key numbers them itself.
    const pg = onPostgres(db);
    await db.schema
      .createTable('todos')
      .addColumn('id', pg ? 'serial' : 'integer', (c) => c.primaryKey())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('todos').execute();
  },
};

function onPostgres(db: Kysely<unknown>): boolean {
  // Required when a migration runs, not imported: importing the migrations (as `app --help` does) loads no kysely.
  const { PostgresAdapter } = require('kysely') as typeof import('kysely');
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
