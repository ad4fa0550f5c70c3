import { expect } from 'chai';
import { sql } from 'kysely';
import { Registry } from 'prom-client';
import { Health } from '../../lib/health/health.js';
import { systemClock } from '../../lib/lifecycle/clock.js';
import { SqlDatabase, type SqlSettings, sqlDefaults } from '../../lib/sql/index.js';
import { FakeClock } from '../../lib/testing/fake-clock.js';
import { connectionsOf, PrivatePostgres, SHARED_PG, scratchDatabase } from './servers.js';

const INTERVAL_MS = 200;
const TIMEOUT_MS = 200;
const FAST = { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, critical: true };

function database(url: string, settings: Partial<SqlSettings> = {}, clock = systemClock): SqlDatabase {
  const all = { ...sqlDefaults('main'), health: FAST, ...settings, url };
  return new SqlDatabase('main', all, { registry: new Registry(), clock });
}

/** Milliseconds until `predicate` holds, polling every 10 ms; throws past `limitMs`. */
async function msUntil(predicate: () => boolean, limitMs: number): Promise<number> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > limitMs) throw new Error(`still not so after ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - start;
}

function passes(db: SqlDatabase, probe: 'startup' | 'readiness'): boolean {
  const check = db.checks().find((c) => c.probe === probe);
  try {
    check?.run();
    return true;
  } catch {
    return false;
  }
}

describe('dionysus/sql health', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('a probe storm opens no connection: checks read the background ping', async () => {
    const scratch = await scratchDatabase('storm');
    cleanups.push(scratch.drop);
    const app = `dionysus_storm_${process.pid}`;
    const db = database(`${scratch.url}?application_name=${app}`);
    await db.start(AbortSignal.timeout(5_000));
    cleanups.push(() => db.stop(AbortSignal.timeout(2_000)));
    const health = new Health({ clock: systemClock, checkTimeoutMs: 1_000, minIntervalMs: 0, wedgedAfterMs: 5_000 });
    for (const check of db.checks()) health.addCheck(check);
    health.observe({ type: 'state', state: 'running' } as never);
    const before = await connectionsOf(SHARED_PG, app);
    expect(before).to.equal(1);
    // Every report runs the checks again (no minimum interval): 500 probes, 500 check runs.
    const reports = [];
    for (let i = 0; i < 500; i++) reports.push(await health.report(i % 2 ? 'readiness' : 'startup'));
    const failed = reports.filter((r) => r.status !== 'pass' || r.checks[0]?.name !== 'sql:main');
    expect(failed.slice(0, 1)).to.deep.equal([]);
    expect(await connectionsOf(SHARED_PG, app)).to.equal(before);
  });

  it('a busy pool whose last query succeeded stays ready, and the ping waits in no queue', async () => {
    const scratch = await scratchDatabase('busy');
    cleanups.push(scratch.drop);
    const db = database(scratch.url, { max: 1 });
    await db.start(AbortSignal.timeout(5_000));
    cleanups.push(() => db.stop(AbortSignal.timeout(2_000)));
    let failed = false;
    await db.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      const end = performance.now() + 4 * INTERVAL_MS;
      while (performance.now() < end) {
        failed ||= !passes(db, 'readiness');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    expect(failed).to.equal(false);
  });

  describe('on a private PostgreSQL that goes away', () => {
    let pg: PrivatePostgres;
    before(async function () {
      this.timeout(60_000);
      pg = await PrivatePostgres.create();
    });
    after(async () => pg?.destroy());

    it('fails readiness within interval + timeout when killed, and passes again once it is back', async () => {
      const db = database(pg.url);
      await db.start(AbortSignal.timeout(5_000));
      cleanups.push(() => db.stop(AbortSignal.timeout(2_000)));
      expect(passes(db, 'readiness')).to.equal(true);
      const gone = pg.crash();
      expect(await msUntil(() => !passes(db, 'readiness'), 5_000)).to.be.below(INTERVAL_MS + TIMEOUT_MS + 100);
      await gone;
      expect(() => db.checks()[1]?.run()).to.throw(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);
      expect(db.checks().map((c) => c.probe)).to.deep.equal(['startup', 'readiness']);
      await pg.start();
      // The next ping after the server is back restores it.
      expect(await msUntil(() => passes(db, 'readiness'), 5_000)).to.be.below(INTERVAL_MS + TIMEOUT_MS + 300);
    });

    it('a non-critical database is reported but never fails its probes', async () => {
      const db = database(pg.url, { health: { ...FAST, critical: false } });
      await db.start(AbortSignal.timeout(5_000));
      cleanups.push(() => db.stop(AbortSignal.timeout(2_000)));
      await pg.kill();
      cleanups.push(() => pg.start());
      await msUntil(() => db.health.ok === false, 5_000);
      expect(db.checks()[1]?.run()).to.match(/^degraded \(not critical\): postgres:\/\//);
      expect(passes(db, 'startup')).to.equal(true);
    });

    it('a ping the frozen server never answers fails readiness at its timeout, and stays failed while the server is frozen', async () => {
      const clock = new FakeClock();
      const db = database(pg.url, { health: { intervalMs: 1_000, timeoutMs: 300, critical: true } }, clock);
      await db.start(AbortSignal.timeout(5_000));
      cleanups.push(() => db.stop(AbortSignal.timeout(500)));
      pg.signalAll('STOP');
      cleanups.push(async () => pg.signalAll('CONT'));
      await clock.advance(1_000); // the interval: a ping goes out and hangs
      expect(passes(db, 'readiness')).to.equal(true);
      await clock.advance(299);
      expect(passes(db, 'readiness')).to.equal(true);
      await clock.advance(1);
      expect(() => db.checks()[1]?.run()).to.throw('no answer to a ping within 300 ms');
      // Later intervals find the hung ping still out: the verdict stands.
      await clock.advance(5_000);
      expect(db.health.error).to.equal('no answer to a ping within 300 ms');
    });

    it('drain lets a query in flight finish, and gives up at its deadline', async () => {
      const db = database(pg.url);
      await db.start(AbortSignal.timeout(5_000));
      cleanups.push(() => db.stop(AbortSignal.timeout(2_000)));
      const slow = sql`select pg_sleep(0.3)`.execute(db.db);
      await new Promise((resolve) => setTimeout(resolve, 20));
      let start = performance.now();
      await db.drain(AbortSignal.timeout(5_000));
      expect(performance.now() - start).to.be.within(200, 1_000);
      await slow;
      const slower = sql`select pg_sleep(2)`.execute(db.db);
      await new Promise((resolve) => setTimeout(resolve, 20));
      start = performance.now();
      await db.drain(AbortSignal.timeout(200));
      expect(performance.now() - start).to.be.within(150, 600);
      // Still usable after the drain: Shutdown and PostRun hooks query it.
      expect((await sql<{ n: number }>`select 1 as n`.execute(db.db)).rows).to.deep.equal([{ n: 1 }]);
      await slower;
    });

    it('stop with the server frozen mid-query ends inside its deadline', async () => {
      const db = database(pg.url);
      await db.start(AbortSignal.timeout(5_000));
      pg.signalAll('STOP');
      cleanups.push(async () => pg.signalAll('CONT'));
      const hung = sql`select 1`.execute(db.db).catch((error: Error) => error);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const start = performance.now();
      await db.stop(AbortSignal.timeout(500));
      expect(performance.now() - start).to.be.within(450, 800);
      expect(await hung).to.be.instanceOf(Error);
      // Twice is harmless.
      await db.stop(AbortSignal.timeout(500));
    });

    it('start against a server that is down fails naming the database and the key to fix', async () => {
      await pg.kill();
      cleanups.push(() => pg.start());
      const db = database(pg.url);
      const error = await db.start(AbortSignal.timeout(5_000)).catch((e: Error) => e);
      expect((error as Error).message).to.match(
        /^sql:main: cannot reach postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: .+; check dionysus\.sql\.main\.url or DATABASE_URL$/,
      );
      const start = performance.now();
      await db.stop(AbortSignal.timeout(1_000));
      expect(performance.now() - start).to.be.below(1_200);
    });
  });
});
