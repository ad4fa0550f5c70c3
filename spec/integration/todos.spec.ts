import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { expect } from 'chai';
import { type RunningSample, removeRuntimeDirs, startSample } from '../http/sample-process.js';
import { PrivateRedis } from '../redis/servers.js';
import { admin, scratchDatabase } from '../sql/servers.js';
import { killChildren } from './child.js';

/**
 * The reference app's todos, primes and cache as a real process: `app http`
 * on a SQLite file in its working directory (no server at all), on a scratch
 * database of the machine's PostgreSQL with DATABASE_URL, and with a Redis of
 * the spec's own with REDIS_URL.
 */
interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown> & { issues?: { in: string; path: string; message: string }[] };
}

function client(port: number) {
  const call = async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Reply['body'] };
  };
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body: unknown) => call('POST', path, body),
    patch: (path: string, body: unknown) => call('PATCH', path, body),
  };
}

/** Stops the sample with SIGTERM: it must exit 0. */
async function stop(sample: RunningSample): Promise<void> {
  sample.child.signal('SIGTERM');
  const exit = await sample.child.waitForExit();
  expect(exit.code, exit.stderr).to.equal(0);
}

/** What every database must do: create, read, list, update, and 404 for what is not there. */
async function crud(port: number): Promise<void> {
  const api = client(port);
  const created = await api.post('/todos', { title: 'buy tea' });
  expect(created.status).to.equal(201);
  expect(created.body).to.deep.equal({ id: 1, title: 'buy tea', done: false });
  expect((await api.post('/todos', { title: 'brew it' })).body).to.deep.equal({ id: 2, title: 'brew it', done: false });

  const found = await api.get('/todos/1');
  expect(found.status).to.equal(200);
  expect(found.body).to.deep.equal({ id: 1, title: 'buy tea', done: false });

  const updated = await api.patch('/todos/1', { done: true });
  expect(updated.status).to.equal(200);
  expect(updated.body).to.deep.equal({ id: 1, title: 'buy tea', done: true });
  expect((await api.get('/todos/1')).body).to.include({ done: true });

  const list = await api.get('/todos');
  expect(list.status).to.equal(200);
  expect(list.body).to.deep.equal([
    { id: 1, title: 'buy tea', done: true },
    { id: 2, title: 'brew it', done: false },
  ]);

  for (const missing of [await api.get('/todos/99'), await api.patch('/todos/99', { done: true })]) {
    expect(missing.status).to.equal(404);
    expect(missing.body).to.include({ error: 'no todo 99', code: 'TODO_NOT_FOUND' });
  }
}

/** The names of the checks a probe runs, from its /healthx report. */
async function checksOf(port: number, probe: 'startup' | 'readiness'): Promise<string[]> {
  const report = await client(port).get(`/healthx/${probe}`);
  expect(report.status, JSON.stringify(report.body)).to.equal(200);
  return (report.body.checks as { name: string }[]).map((c) => c.name);
}

describe("the reference app's todos as a process", () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
  });

  it('keeps todos in a SQLite file under its working directory, with no Redis and no server, across restarts', async () => {
    const first = await startSample();
    await crud(first.port);
    expect(existsSync(join(first.cwd, 'data', 'main.sqlite'))).to.equal(true);
    // REDIS_URL unset: no cache client, so no redis:cache check.
    expect(await checksOf(first.port, 'startup')).to.deep.equal(['sql:main']);
    expect(await checksOf(first.port, 'readiness')).to.deep.equal(['sql:main', 'dependency']);
    await stop(first);

    const second = await startSample({ cwd: first.cwd });
    expect((await client(second.port).get('/todos/2')).body).to.deep.equal({ id: 2, title: 'brew it', done: false });
    await stop(second);
  });

  it('runs the same routes on PostgreSQL with DATABASE_URL, its migrations applied at start', async () => {
    const database = await scratchDatabase('todos');
    try {
      const sample = await startSample({ env: { DATABASE_URL: database.url } });
      await crud(sample.port);
      await stop(sample);
      expect(existsSync(join(sample.cwd, 'data')), 'no SQLite file beside PostgreSQL').to.equal(false);
      const rows = await admin(database.url, 'select id, title, done from todos order by id');
      expect(rows).to.deep.equal([
        { id: 1, title: 'buy tea', done: 1 },
        { id: 2, title: 'brew it', done: 0 },
      ]);
    } finally {
      await database.drop();
    }
  });

  it('answers 400 naming every bad field of the path, the query and the body', async () => {
    const { port } = await startSample();
    const api = client(port);
    const noTitle = await api.post('/todos', {});
    expect(noTitle.status).to.equal(400);
    expect(noTitle.body).to.include({ code: 'VALIDATION_FAILED' });
    expect(noTitle.body.issues?.map((i) => [i.in, i.path])).to.deep.equal([['body', 'title']]);

    const both = await api.patch('/todos/abc', { done: 'yes' });
    expect(both.status).to.equal(400);
    expect(both.body.issues?.map((i) => [i.in, i.path])).to.deep.equal([
      ['path', 'id'],
      ['body', 'done'],
    ]);
    expect((await api.get('/todos/0')).body.issues?.map((i) => i.path)).to.deep.equal(['id']);
    // Past PostgreSQL's integer, refused as input rather than failing in the database.
    expect((await api.get('/todos/2147483648')).status).to.equal(400);
    expect((await api.get('/todos?limit=5000')).body.issues?.map((i) => [i.in, i.path])).to.deep.equal([
      ['query', 'limit'],
    ]);
  });

  describe('with REDIS_URL', () => {
    let redis: PrivateRedis;
    before(async () => {
      redis = await PrivateRedis.start();
    });
    after(async () => {
      await redis.kill();
    });

    it('caches GET /todos/:id in the cache Redis and forgets it on PATCH', async () => {
      const sample = await startSample({ env: { REDIS_URL: redis.url } });
      const api = client(sample.port);
      const keys = createClient({ url: redis.url });
      await keys.connect();
      try {
        expect(await checksOf(sample.port, 'readiness')).to.deep.equal(['sql:main', 'redis:cache', 'dependency']);
        await api.post('/todos', { title: 'buy tea' });
        expect(await keys.exists('todos:1'), 'a POST caches nothing').to.equal(0);

        const miss = await api.get('/todos/1');
        expect(miss.headers.get('x-cache')).to.equal('miss');
        expect(JSON.parse((await keys.get('todos:1')) as string)).to.deep.equal(miss.body);
        expect(await keys.ttl('todos:1')).to.be.within(1, 60);

        // The cached copy answers, not the database: a value only Redis holds comes back.
        await keys.set('todos:1', JSON.stringify({ id: 1, title: 'from the cache', done: false }));
        const hit = await api.get('/todos/1');
        expect(hit.headers.get('x-cache')).to.equal('hit');
        expect(hit.body).to.include({ title: 'from the cache' });

        expect((await api.patch('/todos/1', { done: true })).body).to.deep.equal({
          id: 1,
          title: 'buy tea',
          done: true,
        });
        expect(await keys.exists('todos:1'), 'PATCH forgets the cached copy').to.equal(0);
        const after = await api.get('/todos/1');
        expect(after.headers.get('x-cache')).to.equal('miss');
        expect(after.body).to.deep.equal({ id: 1, title: 'buy tea', done: true });

        expect((await api.get('/todos/42')).status, 'a missing todo is not cached').to.equal(404);
        expect(await keys.exists('todos:42')).to.equal(0);
      } finally {
        keys.destroy();
      }
      await stop(sample);
    });
  });

  it('counts primes in the primes pool, its input bounded by the schema', async () => {
    const sample = await startSample();
    const api = client(sample.port);
    const small = await api.get('/primes?below=100');
    expect(small.status).to.equal(200);
    expect(small.body).to.deep.equal({ below: 100, count: 25, largest: 97 });
    expect((await api.get('/primes?below=1000000')).body).to.deep.equal({
      below: 1_000_000,
      count: 78_498,
      largest: 999_983,
    });
    for (const bad of ['1', '10000001', 'many']) {
      const refused = await api.get(`/primes?below=${bad}`);
      expect(refused.status, bad).to.equal(400);
      expect(refused.body.issues?.map((i) => [i.in, i.path])).to.deep.equal([['query', 'below']]);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort(sample)}/metrics`)).text();
    expect(metrics).to.match(/^dionysus_pool_tasks_total\{[^}]*pool_name="primes"[^}]*outcome="ok"[^}]*\} 2$/m);
    expect(metrics).to.match(/^dionysus_pool_capacity\{pool_name="primes"[^}]*\} 2$/m);
    await stop(sample);
  });
});

/** The admin server's port, from its "listening" log line. */
function adminPort(sample: RunningSample): number {
  const line = sample.child.stdout
    .split('\n')
    .filter(Boolean)
    .map((text) => JSON.parse(text) as { admin?: { port?: number } })
    .find((record) => typeof record.admin?.port === 'number');
  return line?.admin?.port as number;
}
