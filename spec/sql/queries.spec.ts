import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { expect } from 'chai';
import { type Generated, type Kysely, sql } from 'kysely';
import { Registry } from 'prom-client';
import { AppConfig } from '../../lib/config/app-config.js';
import { readSqlSettings, SqlDatabase, sqlDefaults } from '../../lib/sql/index.js';
import { scratchDatabase } from './servers.js';

interface DB {
  todos: { id: Generated<number>; title: string; done: number };
}

/** The one typed query path the app writes, run unchanged on both databases. */
async function todoRoundTrip(db: Kysely<DB>): Promise<unknown> {
  const inserted = await db
    .insertInto('todos')
    .values({ title: 'write specs', done: 0 })
    .returning(['id', 'title', 'done'])
    .executeTakeFirstOrThrow();
  await db.updateTable('todos').set({ done: 1 }).where('id', '=', inserted.id).execute();
  const found = await db.selectFrom('todos').selectAll().where('id', '=', inserted.id).executeTakeFirstOrThrow();
  const count = await db
    .selectFrom('todos')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  await db.deleteFrom('todos').where('id', '=', inserted.id).execute();
  return { inserted, found, count: Number(count.n) };
}

const SERIAL = { sqlite: 'integer primary key autoincrement', postgresql: 'serial primary key' };

describe('dionysus/sql: one typed query path on SQLite and PostgreSQL', () => {
  const stops: (() => Promise<void>)[] = [];
  let dir: string;
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sql-queries-'));
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    exporter.reset();
  });
  after(() => {
    trace.disable();
    context.disable();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(url: string, registry = new Registry()): Promise<SqlDatabase<DB>> {
    const database = new SqlDatabase<DB>('main', { ...sqlDefaults('main'), url }, { registry });
    await database.start(AbortSignal.timeout(5_000));
    stops.push(() => database.stop(AbortSignal.timeout(2_000)));
    const id = SERIAL[database.target.system];
    await sql`create table todos (id ${sql.raw(id)}, title text not null, done integer not null)`.execute(database.db);
    return database;
  }

  async function sqliteUrl(): Promise<string> {
    return `sqlite:${join(dir, `todos-${Math.random().toString(36).slice(2)}.sqlite`)}`;
  }

  async function postgresUrl(): Promise<string> {
    const scratch = await scratchDatabase('queries');
    stops.push(scratch.drop);
    return scratch.url;
  }

  for (const [system, url] of [
    ['sqlite', sqliteUrl],
    ['postgresql', postgresUrl],
  ] as const) {
    describe(system, () => {
      it('runs the same insert, update, select, count and delete', async () => {
        const database = await open(await url());
        expect(await todoRoundTrip(database.db)).to.deep.equal({
          inserted: { id: 1, title: 'write specs', done: 0 },
          found: { id: 1, title: 'write specs', done: 1 },
          count: 1,
        });
      });

      it('counts operations by kind and outcome, never by statement, and reports the pool', async () => {
        const registry = new Registry();
        const database = await open(await url(), registry);
        await todoRoundTrip(database.db);
        await sql`select * from no_such_table`.execute(database.db).catch(() => undefined);
        const text = await registry.metrics();
        const count = (operation: string, outcome: string): number => {
          const line = text
            .split('\n')
            .find((l) =>
              l.startsWith(
                `db_client_operation_duration_seconds_count{database="main",operation="${operation}",outcome="${outcome}"}`,
              ),
            );
          return line ? Number(line.split(' ').at(-1)) : 0;
        };
        expect(count('INSERT', 'ok')).to.equal(1);
        expect(count('UPDATE', 'ok')).to.equal(1);
        expect(count('SELECT', 'ok')).to.equal(2);
        expect(count('DELETE', 'ok')).to.equal(1);
        expect(count('SELECT', 'error')).to.equal(1);
        expect(text).to.not.include('no_such_table');
        expect(text).to.match(/db_client_connection_max\{database="main"\} (1|10)\n/);
        expect(text).to.match(/db_client_connection_count\{database="main",state="idle"\} \d+/);
        expect(text).to.match(/db_client_connection_pending_requests\{database="main"\} 0/);
        expect(text).to.match(/db_client_connection_wait_time_seconds_count\{database="main"\} [1-9]/);
        expect(text).to.include('db_client_connection_timeouts_total');
      });

      it('traces each query with its parameterised statement and never its values', async () => {
        const database = await open(await url());
        exporter.reset();
        await database.db.selectFrom('todos').selectAll().where('title', '=', 'secret-value-42').execute();
        const spans = exporter.getFinishedSpans().filter((s) => s.attributes['db.operation.name'] === 'SELECT');
        expect(spans).to.have.length(1);
        const attributes = (spans[0] as (typeof spans)[number]).attributes;
        expect(attributes['db.system.name']).to.equal(system);
        expect(attributes['db.query.text']).to.match(/select \* from "todos" where "title" = (\?|\$1)/);
        expect(JSON.stringify(attributes)).to.not.include('secret-value-42');
      });

      it('traces a query under the span of a sampled request, and makes none under one its sampler dropped', async () => {
        const database = await open(await url());
        exporter.reset();
        const request = provider.getTracer('spec').startSpan('GET /todos');
        await context.with(trace.setSpan(context.active(), request), () =>
          database.db.selectFrom('todos').selectAll().execute(),
        );
        request.end();
        // What a ratio sampler leaves of the requests outside its ratio: a span context without the sampled flag.
        const dropped = trace.wrapSpanContext({
          traceId: '0af7651916cd43dd8448eb211c80319c',
          spanId: 'b7ad6b7169203331',
          traceFlags: TraceFlags.NONE,
        });
        await context.with(trace.setSpan(context.active(), dropped), () =>
          database.db.selectFrom('todos').selectAll().where('id', '=', 1).execute(),
        );
        const queries = exporter.getFinishedSpans().filter((s) => s.attributes['db.operation.name'] === 'SELECT');
        expect(queries.map((s) => s.attributes['db.query.text'])).to.have.length(1);
        expect(queries[0]?.parentSpanContext?.spanId).to.equal(request.spanContext().spanId);
        expect(queries[0]?.spanContext().traceId).to.equal(request.spanContext().traceId);
      });
    });
  }

  it('reads DATABASE_URL over dionysus.sql.main.url, and the SQLite default otherwise', () => {
    const config = new AppConfig({ dionysus: { sql: { main: { url: 'sqlite::memory:', max: 3 } } } });
    expect(readSqlSettings(config, 'main', {}).url).to.equal('sqlite::memory:');
    const over = readSqlSettings(config, 'main', { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
    expect(over).to.include({ url: 'postgres://postgres@127.0.0.1:5432/test', max: 3 });
    // DATABASE_URL is main's alone.
    expect(readSqlSettings(config, 'reports', { DATABASE_URL: 'sqlite::memory:' }).url).to.equal(
      'sqlite:data/reports.sqlite',
    );
  });
});
