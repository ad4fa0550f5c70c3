import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { expect } from 'chai';
import { type LogRecord, logRecords } from '../http/logs.js';
import { send } from '../http/sample-process.js';
import { PrivateRedis, waitFor } from '../redis/servers.js';
import { admin, PrivatePostgres } from '../sql/servers.js';
import { type Child, type Exit, fixture, killChildren, node } from './child.js';

/**
 * The integrations wired into the lifecycle and the health model, in a real
 * service (spec/fixtures/integrations: todos in PostgreSQL, cached in Redis,
 * reports in a task pool) run as a child process against a PostgreSQL and a
 * Redis of this spec's own, which it kills and starts again.
 */
const APP = fixture('integrations');
const INTERVAL_MS = 200;
const TIMEOUT_MS = 150;
const TOKEN = 'wired-secret';
const BUDGET_MS = 3_000;
const MIGRATIONS = ['20260101000000_create_todos', '20260102000000_index_titles'];

const CLEAN: Record<string, undefined> = Object.fromEntries(
  ['NODE_CONFIG', 'NODE_ENV', 'HEALTH_STATUS', 'KUBERNETES_SERVICE_HOST', 'LOG_LEVEL', 'HTTP_PORT', 'ADMIN_PORT'].map(
    (name) => [name, undefined],
  ),
);

describe('integrations in the lifecycle and the health model (a real service on a private PostgreSQL and Redis)', function () {
  this.timeout(60_000);
  let pg: PrivatePostgres;
  let redis: PrivateRedis;
  const dirs: string[] = [];
  let databases = 0;

  before(async () => {
    pg = await PrivatePostgres.create();
    redis = await PrivateRedis.start();
  });
  after(async () => {
    await redis?.kill();
    await pg?.destroy();
  });
  afterEach(async () => {
    await killChildren();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    // A fault spec leaves the servers down: the next one finds them up.
    if (!(await reachable())) await pg.start();
    await redis.kill();
    await redis.restart();
  });

  async function reachable(): Promise<boolean> {
    return admin(pg.url, 'select 1').then(
      () => true,
      () => false,
    );
  }

  /** A database of its own on the private server, for one spec. */
  async function freshDatabase(): Promise<string> {
    const name = `wired_${process.pid}_${++databases}`;
    await admin(pg.url, `create database ${name}`);
    return `postgres://postgres@127.0.0.1:${pg.port}/${name}`;
  }

  function env(url: string, dir: string, dionysus: object = {}): Record<string, string | undefined> {
    const fast = { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, critical: true };
    return {
      ...CLEAN,
      DATABASE_URL: url,
      HTTP_PORT: '0',
      ADMIN_PORT: '0',
      DIONYSUS_RUNTIME_DIR: dir,
      NODE_CONFIG: JSON.stringify({
        dionysus: mergeConfig(
          {
            http: { controlToken: TOKEN },
            health: { minIntervalMs: 0 },
            shutdown: { timeoutMs: BUDGET_MS },
            sql: { main: { health: fast } },
            // REDIS_URL is the `main` client's: `cache` is configured by its key.
            redis: { cache: { url: redis.url, health: fast } },
            pool: { jobs: { drainTimeoutMs: 500 } },
          },
          dionysus,
        ),
      }),
    };
  }

  function task(url: string, args: readonly string[]): Child {
    const dir = mkdtempSync(join(tmpdir(), 'wired-'));
    dirs.push(dir);
    return node(APP, args, { env: env(url, dir) });
  }

  interface Running {
    readonly child: Child;
    readonly port: number;
    readonly dir: string;
  }

  async function serve(url: string, dionysus: object = {}): Promise<Running> {
    const dir = mkdtempSync(join(tmpdir(), 'wired-'));
    dirs.push(dir);
    const child = node(APP, ['http'], { env: env(url, dir, dionysus) });
    const port = (): number | undefined =>
      (records(child).find((r) => typeof (r.http as { port?: unknown })?.port === 'number')?.http as { port: number })
        ?.port;
    await child.waitFor(() => port() !== undefined, 'the http server listening line', 15_000);
    return { child, port: port() as number, dir };
  }

  async function migrated(): Promise<string> {
    const url = await freshDatabase();
    const exit = await task(url, ['migrate', 'up']).waitForExit(15_000);
    expect(exit.code, exit.stderr).to.equal(0);
    return url;
  }

  const probe = async (app: Running, name: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const answer = await send(app.port, `/healthx/${name}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> };
  };

  it('the database going away fails readiness, never liveness, within interval + timeout; its return restores it', async () => {
    const app = await serve(await migrated());
    expect((await probe(app, 'readiness')).status).to.equal(200);
    const gone = pg.crash();
    let failed: Record<string, unknown> = {};
    const took = await until(async () => {
      const report = await probe(app, 'readiness');
      failed = report.body;
      return report.status === 503;
    }, 5_000);
    expect(took).to.be.below(INTERVAL_MS + TIMEOUT_MS + 250);
    expect(String(failed.reason)).to.match(/^check sql:main failed: postgres:\/\/postgres@127\.0\.0\.1:\d+\/wired_/);
    await gone;
    expect((await probe(app, 'liveness')).status).to.equal(200);
    await pg.start();
    await until(async () => (await probe(app, 'readiness')).status === 200, 5_000);
  });

  it('Redis going away fails readiness, never liveness; its return restores it', async () => {
    const app = await serve(await migrated());
    expect((await probe(app, 'readiness')).status).to.equal(200);
    await redis.kill();
    const took = await until(async () => (await probe(app, 'readiness')).status === 503, 5_000);
    expect(took).to.be.below(INTERVAL_MS + TIMEOUT_MS + 250);
    expect(String((await probe(app, 'readiness')).body.reason)).to.include('check redis:cache failed');
    expect((await probe(app, 'liveness')).status).to.equal(200);
    expect((await exec(app, 'liveness')).code).to.equal(0);
    expect((await exec(app, 'readiness')).code).to.equal(1);
    await redis.restart();
    await until(async () => (await probe(app, 'readiness')).status === 200, 8_000);
  });

  it('a probe storm (/healthx and exec probes) opens no connection to PostgreSQL or Redis', async () => {
    const url = await migrated();
    const app = await serve(url);
    const database = new URL(url).pathname.slice(1);
    const cache = createClient({ url: redis.url });
    await cache.connect();
    try {
      const own = await cache.clientId();
      const clientIds = async (): Promise<number[]> =>
        String(await cache.clientList())
          .split('\n')
          .flatMap((line) => (/^id=(\d+)/.exec(line) ? [Number(/^id=(\d+)/.exec(line)?.[1])] : []))
          .filter((id) => id !== own);
      const before = await clientIds();
      const stormStart = new Date();
      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          probe(app, i % 3 === 0 ? 'startup' : i % 3 === 1 ? 'readiness' : 'liveness'),
        ),
      );
      for (let i = 0; i < 6; i++) expect((await exec(app, i % 2 ? 'readiness' : 'startup')).code).to.equal(0);
      const opened = (await admin(
        pg.url,
        `select count(*)::int as n from pg_stat_activity where datname = '${database}' and backend_start >= '${stormStart.toISOString()}'`,
      )) as { n: number }[];
      expect(opened[0]?.n).to.equal(0);
      expect((await clientIds()).filter((id) => id > Math.max(...before))).to.deep.equal([]);
    } finally {
      await cache.close();
    }
  });

  it('stops in order: servers, then the pool drains, then Shutdown and PostRun hooks (querying the database), then Redis, then the database', async () => {
    const app = await serve(await migrated());
    expect((await send(app.port, '/todos/reports/5000', { method: 'POST' })).status).to.equal(202);
    await app.child.waitFor(() => records(app.child).some((r) => r.msg === 'report started'), 'the report started');
    app.child.signal('SIGTERM');
    const exit = await app.child.waitForExit(BUDGET_MS + 2_000);
    expect(exit.code, exit.stdout).to.equal(0);
    const all = logRecords(exit.stdout);
    const stops = all
      .filter((r) => typeof r.hook === 'string' && ['drain', 'shutdown', 'postrun'].includes(r.phase as string))
      .map((r) => `${r.phase} ${r.hook}`);
    expect(stops).to.deep.equal([
      'drain pool:jobs',
      'drain redis:cache',
      'drain sql:main',
      'shutdown Todos.flush',
      'postrun Todos.close',
      'postrun pool:jobs',
      'postrun redis:cache',
      'postrun sql:main',
    ]);
    const at = (msg: string): number => all.findIndex((r) => r.msg === msg);
    // The report ran past the pool's drain deadline: its signal fired, and the pool said what it dropped.
    expect(at('report aborted')).to.be.above(at('SIGTERM received: stopping'));
    expect(all.map((r) => r.msg)).to.include(
      "pool 'jobs' dropped 1 task at the drain deadline (1 running, 0 waiting); their AbortSignals fired",
    );
    expect(all.find((r) => r.msg === 'shutdown hook queried the database')).to.include({ todos: 0 });
    expect(all.find((r) => r.msg === 'postrun hook queried the database')).to.include({ n: 1 });
  });

  it('SIGTERM with PostgreSQL and Redis down still exits inside the stop budget', async () => {
    const app = await serve(await migrated());
    await pg.crash();
    await redis.kill();
    const start = performance.now();
    app.child.signal('SIGTERM');
    const exit = await app.child.waitForExit(BUDGET_MS + 5_000);
    const took = performance.now() - start;
    expect(exit.signal).to.equal(null);
    expect(took).to.be.below(BUDGET_MS + 1_000);
    // The hooks that query the database fail by name; the exit says so.
    expect(exit.code).to.equal(1);
    expect(exit.stderr + exit.stdout).to.include('Todos.flush');
  });

  it('pending migrations (onStartup: check) fail the startup probe, naming them; readiness is not the place', async () => {
    const app = await serve(await freshDatabase());
    const startup = await probe(app, 'startup');
    expect(startup.status).to.equal(503);
    expect(String(startup.body.reason)).to.equal(
      `check sql:main failed: 2 migrations pending (${MIGRATIONS.join(', ')}); run \`migrate up\` or set dionysus.sql.main.migrations.onStartup to apply`,
    );
    expect((await exec(app, 'startup')).code).to.equal(1);
  });

  it('migrate status exits 1 while migrations are pending, naming them, and 0 once migrate up applied them', async () => {
    const url = await freshDatabase();
    const pending = await task(url, ['migrate', 'status']).waitForExit(15_000);
    expect(pending.code).to.equal(1);
    expect(pending.lines).to.deep.equal(MIGRATIONS.map((m) => `pending  ${m}`));
    expect(pending.errorText).to.include(`sql:main: 2 migrations pending (${MIGRATIONS.join(', ')})`);
    const up = await task(url, ['migrate', 'up']).waitForExit(15_000);
    expect(up.lines).to.deep.equal(MIGRATIONS.map((m) => `applied ${m}`));
    const clean = await task(url, ['migrate', 'status']).waitForExit(15_000);
    expect(clean.code, clean.stderr).to.equal(0);
  });

  it('migrate up from two processes at once applies each migration once', async () => {
    const url = await freshDatabase();
    const exits: Exit[] = await Promise.all([
      task(url, ['migrate', 'up']).waitForExit(20_000),
      task(url, ['migrate', 'up']).waitForExit(20_000),
    ]);
    for (const exit of exits) expect(exit.code, exit.stderr).to.equal(0);
    const applied = exits.flatMap((e) => e.lines.filter((line) => line.startsWith('applied ')));
    expect(applied.sort()).to.deep.equal(MIGRATIONS.map((m) => `applied ${m}`));
    const rows = (await admin(url, 'select count(*)::int as n from kysely_migration')) as { n: number }[];
    expect(rows[0]?.n).to.equal(2);
  });

  async function exec(app: Running, name: string): Promise<Exit> {
    return node(APP, [name], { env: { ...CLEAN, DIONYSUS_RUNTIME_DIR: app.dir } }).waitForExit(10_000);
  }
});

function records(child: Child): LogRecord[] {
  return logRecords(child.stdout.slice(0, child.stdout.lastIndexOf('\n') + 1));
}

/** Milliseconds until `check` resolves true, polling every 20 ms; throws past `limitMs`. */
async function until(check: () => Promise<boolean>, limitMs: number): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > limitMs) throw new Error(`still not so after ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - start;
}

function mergeConfig(base: Record<string, unknown>, over: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const here = out[key];
    out[key] =
      value && typeof value === 'object' && here && typeof here === 'object'
        ? mergeConfig(here as Record<string, unknown>, value)
        : value;
  }
  return out;
}

void waitFor;
