import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely, Migration, MigrationResultSet, Migrator } from 'kysely';
import { DionysusError } from '../errors.js';

/**
 * Migrations as statically imported modules, by name; names sort in the order
 * they apply (`migrate create` prefixes a timestamp). Imported, not read from
 * a folder at run time, so they work from a bundle and the single executable.
 * @example
 * import * as createTodos from './migrations/20260101120000_create_todos.js';
 * export const migrations = { '20260101120000_create_todos': createTodos };
 */
export type Migrations = Readonly<Record<string, SqlMigration>>;

/**
 * One migration: Kysely's `Migration`, typed structurally. kysely ships separate
 * declarations for `import` and `require` whose `Kysely` classes do not match
 * (private members), so an ESM app's migrations must fit a CommonJS library's type.
 */
export interface SqlMigration {
  // biome-ignore lint/suspicious/noExplicitAny: the app's Kysely, from whichever of kysely's two builds it imports
  up(db: any): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: as for up
  down?(db: any): Promise<void>;
}

export interface MigrationState {
  readonly name: string;
  /** When it was applied; undefined while pending. */
  readonly executedAt?: Date;
}

export interface MigrationStatus {
  readonly migrations: readonly MigrationState[];
  /** Names not applied yet, in the order they would apply. */
  readonly pending: readonly string[];
}

// Kysely's migrator holds a lock (PostgreSQL: an advisory lock inside the migration's transaction),
// so concurrent `up` from several replicas applies each migration once.
function migrator(db: Kysely<unknown>, migrations: Migrations): Migrator {
  const { Migrator } = require('kysely') as typeof import('kysely');
  return new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations }) as Record<string, Migration> },
  });
}

/** Which migrations are applied and which are pending. */
export async function migrationStatus(db: Kysely<unknown>, migrations: Migrations): Promise<MigrationStatus> {
  const infos = await migrator(db, migrations).getMigrations();
  const states = infos.map(({ name, executedAt }) => (executedAt ? { name, executedAt } : { name }));
  return { migrations: states, pending: infos.filter((m) => !m.executedAt).map((m) => m.name) };
}

/** Applies pending migrations, all of them or up to and including `to`; returns the names applied. */
export async function migrateUp(
  db: Kysely<unknown>,
  migrations: Migrations,
  options: { to?: string | undefined } = {},
): Promise<string[]> {
  const { to } = options;
  if (to !== undefined) {
    known(migrations, to, 'up --to');
    const status = await migrationStatus(db, migrations);
    // `up` never goes down: a target already applied leaves everything as it is.
    if (!status.pending.includes(to)) return [];
    return applied(await migrator(db, migrations).migrateTo(to), 'up');
  }
  return applied(await migrator(db, migrations).migrateToLatest(), 'up');
}

/** Reverts the last `steps` applied migrations (default 1); returns the names reverted. */
export async function migrateDown(
  db: Kysely<unknown>,
  migrations: Migrations,
  options: { steps?: number | undefined } = {},
): Promise<string[]> {
  const steps = options.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new DionysusError('usage', `migrate down --steps ${steps}: steps must be a whole number, 1 or more`);
  }
  const done = (await migrationStatus(db, migrations)).migrations.filter((m) => m.executedAt).map((m) => m.name);
  if (done.length === 0) return [];
  const { NO_MIGRATIONS } = require('kysely') as typeof import('kysely');
  const target = done[done.length - 1 - steps] ?? NO_MIGRATIONS;
  return applied(await migrator(db, migrations).migrateTo(target), 'down');
}

function known(migrations: Migrations, name: string, what: string): void {
  if (Object.hasOwn(migrations, name)) return;
  const names = Object.keys(migrations).sort();
  throw new DionysusError(
    'usage',
    `migrate ${what} ${name}: no migration has that name (known: ${names.join(', ') || 'none'})`,
  );
}

function applied(set: MigrationResultSet, direction: 'up' | 'down'): string[] {
  const results = set.results ?? [];
  if (set.error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const cause = set.error instanceof Error ? set.error.message : String(set.error);
    throw new DionysusError(
      'run',
      failed
        ? `migration ${failed} failed (${direction}): ${cause}; the migrations before it stay applied`
        : `migrate ${direction} failed: ${cause}`,
      { cause: set.error, expose: true },
    );
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

const TEMPLATE = `import { type Kysely, sql } from 'kysely';

// Add this module to the app's migrations object (imported statically, so it ships in the binary).
export async function up(db: Kysely<any>): Promise<void> {
  await sql\`select 1\`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql\`select 1\`.execute(db);
}
`;

/** The name `migrate create` gives a migration: a UTC timestamp, so names sort in creation order. */
export function migrationName(name: string, now = new Date()): string {
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) {
    throw new DionysusError(
      'usage',
      `migrate create ${JSON.stringify(name)}: a name is letters, digits, '_' and '-', e.g. create_todos`,
    );
  }
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${stamp}_${name}`;
}

/** Writes `<folder>/<timestamp>_<name>.ts` from the template; returns its path. Never overwrites. */
export async function createMigration(folder: string, name: string, now = new Date()): Promise<string> {
  const file = join(folder, `${migrationName(name, now)}.ts`);
  await mkdir(folder, { recursive: true });
  try {
    await writeFile(file, TEMPLATE, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new DionysusError('usage', `migrate create: ${file} exists already; pick another name`);
    }
    throw error;
  }
  return file;
}
