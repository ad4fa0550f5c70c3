import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Kysely, sql } from 'kysely';
import { Registry } from 'prom-client';
import {
  createMigration,
  type Migrations,
  migrateDown,
  migrateUp,
  migrationStatus,
  SqlDatabase,
  type SqlDatabase as SqlDatabaseType,
  type SqlSettings,
  sqlDefaults,
  sqlMigrateCommands,
} from '../../lib/sql/index.js';
import { scratchDatabase } from './servers.js';

// Each migration records that it ran: applying one twice would show as two rows (or a failed create).
const migrations: Migrations = {
  '20260101000000_create_todos': {
    up: async (db: Kysely<unknown>) => {
      await sql`create table todos (id integer primary key, title text not null)`.execute(db);
      await sql`create table runs (name text not null)`.execute(db);
      await sql`insert into runs values ('create_todos')`.execute(db);
    },
    down: async (db: Kysely<unknown>) => {
      await sql`drop table runs`.execute(db);
      await sql`drop table todos`.execute(db);
    },
  },
  '20260102000000_add_done': {
    up: async (db: Kysely<unknown>) => {
      await sql`alter table todos add column done integer not null default 0`.execute(db);
      await sql`insert into runs values ('add_done')`.execute(db);
    },
    down: async (db: Kysely<unknown>) => {
      await sql`alter table todos drop column done`.execute(db);
      await sql`delete from runs where name = 'add_done'`.execute(db);
    },
  },
};
const NAMES = Object.keys(migrations);

describe('dionysus/sql migrations', () => {
  const cleanups: (() => Promise<void>)[] = [];
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sql-migrations-'));
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function open(url: string, settings: Partial<SqlSettings> = {}): Promise<SqlDatabaseType> {
    const database = new SqlDatabase(
      'main',
      { ...sqlDefaults('main'), ...settings, url },
      {
        registry: new Registry(),
        migrations,
      },
    );
    await database.start(AbortSignal.timeout(10_000));
    cleanups.push(() => database.stop(AbortSignal.timeout(2_000)));
    return database;
  }

  const urls = {
    sqlite: async () => `sqlite:${join(dir, `m-${Math.random().toString(36).slice(2)}.sqlite`)}`,
    postgresql: async () => {
      const scratch = await scratchDatabase('migrations');
      cleanups.push(scratch.drop);
      return scratch.url;
    },
  };

  for (const [system, url] of Object.entries(urls)) {
    describe(system, () => {
      it('applies all, reports status, reverts steps, and applies up to a name', async () => {
        const { db } = await open(await url(), { migrations: { onStartup: 'off' } });
        expect((await migrationStatus(db, migrations)).pending).to.deep.equal(NAMES);
        expect(await migrateUp(db, migrations, { to: NAMES[0] })).to.deep.equal([NAMES[0]]);
        expect((await migrationStatus(db, migrations)).pending).to.deep.equal([NAMES[1]]);
        // `up --to` a migration already applied goes nowhere, never down.
        expect(await migrateUp(db, migrations, { to: NAMES[0] })).to.deep.equal([]);
        expect(await migrateUp(db, migrations)).to.deep.equal([NAMES[1]]);
        const status = await migrationStatus(db, migrations);
        expect(status.pending).to.deep.equal([]);
        expect(status.migrations.every((m) => m.executedAt instanceof Date)).to.equal(true);
        expect(await migrateDown(db, migrations, { steps: 2 })).to.deep.equal([NAMES[1], NAMES[0]]);
        expect(await migrateDown(db, migrations)).to.deep.equal([]);
        expect((await migrationStatus(db, migrations)).pending).to.deep.equal(NAMES);
      });

      it('names the unknown target of up --to and lists the known ones', async () => {
        const { db } = await open(await url(), { migrations: { onStartup: 'off' } });
        const error = await migrateUp(db, migrations, { to: 'nope' }).catch((e: Error) => e);
        expect((error as Error).message).to.equal(
          `migrate up --to nope: no migration has that name (known: ${NAMES.join(', ')})`,
        );
      });

      it('onStartup check: pending migrations fail the startup check by name, not readiness', async () => {
        const database = await open(await url());
        const [startup, readiness] = database.checks();
        expect(startup?.probe).to.equal('startup');
        expect(startup?.name).to.equal('sql:main');
        expect(() => startup?.run()).to.throw(`2 migrations pending (${NAMES.join(', ')})`);
        expect(readiness?.probe).to.equal('readiness');
        expect(() => readiness?.run()).to.not.throw();
        expect(database.checks().map((c) => c.probe)).to.not.include('liveness');
      });

      it('onStartup apply: start applies pending migrations', async () => {
        const database = await open(await url(), { migrations: { onStartup: 'apply' } });
        expect((await migrationStatus(database.db, migrations)).pending).to.deep.equal([]);
        expect(() => database.checks()[0]?.run()).to.not.throw();
      });

      it('the status command fails (exit 1) while migrations are pending and passes after up', async () => {
        const { db } = await open(await url(), { migrations: { onStartup: 'off' } });
        const commands = sqlMigrateCommands('main');
        const run = (cls: new (...args: never[]) => object, set: Record<string, unknown> = {}) =>
          captured(() => Object.assign(new (cls as unknown as new (db: unknown) => Runnable)(db), set).run());
        const pending = await run(commands.status);
        expect(pending.error?.message).to.equal(`sql:main: 2 migrations pending (${NAMES.join(', ')})`);
        expect((pending.error as { kind?: string }).kind).to.equal('run');
        expect(pending.stdout).to.equal(`pending  ${NAMES[0]}\npending  ${NAMES[1]}\n`);
        expect((await run(commands.up, { to: NAMES[0] })).stdout).to.equal(`applied ${NAMES[0]}\n`);
        expect((await run(commands.up)).stdout).to.equal(`applied ${NAMES[1]}\n`);
        const clean = await run(commands.status);
        expect(clean.error).to.equal(undefined);
        expect(clean.stdout).to.match(
          /^applied \S+ {2}20260101000000_create_todos\napplied \S+ {2}20260102000000_add_done\n$/,
        );
        expect((await run(commands.down, { steps: 1 })).stdout).to.equal(`reverted ${NAMES[1]}\n`);
      });
    });
  }

  it('two replicas running up at once apply each migration once (PostgreSQL)', async () => {
    const scratch = await scratchDatabase('concurrent');
    cleanups.push(scratch.drop);
    const off = { migrations: { onStartup: 'off' as const } };
    const [a, b] = await Promise.all([open(scratch.url, off), open(scratch.url, off)]);
    const [first, second] = await Promise.all([
      migrateUp(a?.db as Kysely<unknown>, migrations),
      migrateUp(b?.db as Kysely<unknown>, migrations),
    ]);
    expect([...(first ?? []), ...(second ?? [])].sort()).to.deep.equal(NAMES);
    const runs = await sql<{ name: string }>`select name from runs order by name`.execute(a?.db as Kysely<unknown>);
    expect(runs.rows.map((r) => r.name)).to.deep.equal(['add_done', 'create_todos']);
  });

  it('create writes a timestamped template that never overwrites, and refuses a bad name', async () => {
    const folder = join(dir, 'migrations');
    const at = new Date('2026-01-02T03:04:05Z');
    const file = await createMigration(folder, 'create_todos', at);
    expect(file).to.equal(join(folder, '20260102030405_create_todos.ts'));
    const text = readFileSync(file, 'utf8');
    expect(text).to.include('export async function up(db: Kysely<any>)');
    expect(text).to.include('export async function down(db: Kysely<any>)');
    const again = await createMigration(folder, 'create_todos', at).catch((e: Error) => e);
    expect((again as Error).message).to.equal(`migrate create: ${file} exists already; pick another name`);
    const bad = await createMigration(folder, 'drop todos;', at).catch((e: Error) => e);
    expect((bad as Error).message).to.match(/^migrate create "drop todos;": a name is letters, digits/);
  });
});

interface Runnable {
  run(): Promise<void>;
}

/** Runs a command's @Run body, collecting what it prints and how it ends. */
async function captured(run: () => Promise<void>): Promise<{ stdout: string; error?: Error }> {
  const write = process.stdout.write;
  let stdout = '';
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
    return { stdout };
  } catch (error) {
    return { stdout, error: error as Error };
  } finally {
    process.stdout.write = write;
  }
}
