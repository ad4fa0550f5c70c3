import { expect } from 'chai';
import { loadedModules, SAMPLE_HELP } from '../../bench/modules.js';

const DRIVERS = ['kysely', 'pg', 'better-sqlite3'];

function driversLoadedBy(code: string): string[] {
  const loaded = [...loadedModules(['-e', code]).packages.keys()];
  return loaded.filter((name) => DRIVERS.includes(name) || name === 'prom-client');
}

describe('dionysus/sql loads its drivers only when a database is made', () => {
  it('importing dionysus/sql and declaring a database load no driver and no prom-client', () => {
    const code = `const s = require('dionysus/sql'); s.sqlDatabase('main'); s.sqlMigrateCommands('main');`;
    expect(driversLoadedBy(code)).to.deep.equal([]);
  });

  it('a SQLite database loads kysely and better-sqlite3, never pg', () => {
    const code = `const { Registry } = require('prom-client');
      const s = require('dionysus/sql');
      process.env.DATABASE_URL = 'sqlite::memory:';
      const db = s.sqlDatabase('main').useFactory({ has: () => false, get: () => undefined }, new Registry());
      const owner = s.SqlDatabase.of(db);
      owner.start(AbortSignal.timeout(5000)).then(() => owner.stop(AbortSignal.timeout(1000)));`;
    expect(driversLoadedBy(code)).to.deep.equal(['better-sqlite3', 'kysely', 'prom-client']);
  });

  it('the sample app --help loads none of them', () => {
    const loaded = [...loadedModules(SAMPLE_HELP).packages.keys()];
    expect(loaded.filter((name) => DRIVERS.includes(name))).to.deep.equal([]);
  });
});
