import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Exit, fixture, killChildren, run } from '../integration/child.js';
import { scratchDatabase } from '../sql/servers.js';
import { withoutShellConfig } from '../telemetry/log-lines.js';
import { shipExecutable, tempFolders } from './executable.js';

/** The command that applies the main database's migrations (DESIGN.md §8). */
const MIGRATE_UP: readonly string[] = ['migrate', 'up'];

// An app with a database (better-sqlite3, a native addon, by default) as a single executable, copied with
// what the builder shipped beside it into an empty folder with no node_modules above it.
describe('the single executable of an app with a sql database', () => {
  let home: string;
  let app: string;
  const { temp, removeAll } = tempFolders();

  before(async function () {
    this.timeout(120_000);
    ({ home, app } = await shipExecutable(fixture('sql-app'), temp('sql-exe')));
  });

  after(removeAll);

  afterEach(killChildren);

  const exe = (args: readonly string[], env: Record<string, string> = {}, cwd = home, binary = app): Promise<Exit> =>
    run(binary, args, {
      cwd,
      env: { ...withoutShellConfig(), DATABASE_URL: undefined, NODE_PATH: undefined, HOME: cwd, ...env },
    }).waitForExit();

  it('ships better-sqlite3 native addon in native/ beside the executable', () => {
    expect(existsSync(join(home, 'native', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).to.be.true;
  });

  it('applies its migrations with migrate up, then inserts and reads rows on SQLite', async () => {
    const up = await exe(MIGRATE_UP);
    expect(up.code, up.stderr).to.equal(0);
    expect(up.lines).to.deep.equal(['applied 20260101000000_create_todo']);
    expect(existsSync(join(home, 'data', 'main.sqlite')), 'the default database file').to.be.true;
    expect((await exe(['add', '--title', 'tea'])).lines).to.deep.equal(['tea']);
    const second = await exe(['add', '--title', 'milk']);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.lines).to.deep.equal(['milk', 'tea']);
    expect((await exe(MIGRATE_UP)).lines).to.deep.equal(['nothing to apply']);
  });

  it("migrates a database declared on one command (ctl's audit) with migrate audit up, into its own file", async () => {
    const up = await exe(['migrate', 'audit', 'up']);
    expect(up.code, up.stderr).to.equal(0);
    expect(up.lines).to.deep.equal(['nothing to apply']);
    expect(existsSync(join(home, 'data', 'audit.sqlite')), "the audit database's default file").to.be.true;
    const status = await exe(['migrate', 'audit', 'status']);
    expect(status.code, status.stderr).to.equal(0);
  });

  it('runs the same migration and queries on PostgreSQL with DATABASE_URL (pg is bundled)', async () => {
    const scratch = await scratchDatabase('exe');
    try {
      const env = { DATABASE_URL: scratch.url };
      const up = await exe(MIGRATE_UP, env);
      expect(up.code, up.stderr).to.equal(0);
      expect(up.lines).to.deep.equal(['applied 20260101000000_create_todo']);
      const added = await exe(['add', '--title', 'tea'], env);
      expect(added.code, added.stderr).to.equal(0);
      expect(added.lines).to.deep.equal(['tea']);
    } finally {
      await scratch.drop();
    }
  });

  it('without native/ beside it, fails naming the missing addon and the folder to ship', async () => {
    const alone = temp('sql-exe-alone');
    copyFileSync(app, join(alone, 'app'));
    const exit = await exe(MIGRATE_UP, {}, alone, join(alone, 'app'));
    expect(exit.code).to.equal(1);
    expect(exit.errorText).to.include(
      `better-sqlite3's native addon better-sqlite3/build/Release/better_sqlite3.node is missing: ${join(alone, 'native', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')} does not exist; the native/ folder the builder wrote beside the executable must ship with it`,
    );
  });
});
