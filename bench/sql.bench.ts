/**
 * Point queries/s through dionysus/sql (the instrumented driver: operation
 * metrics, pool metrics and a span per query with a recording tracer behind a
 * BatchSpanProcessor and the context manager, as the SDK runs it) vs the
 * same query on bare Kysely with the same driver settings, on SQLite (a temp
 * file) and on PostgreSQL (the machine's server, a scratch database). Rounds
 * alternate between the two sides; medians of the rounds.
 * Target (issue 14): ≥ 0.9× bare Kysely on both.
 *
 *   node dist/bench/run.js sql
 *   BENCH_ROUNDS=9 BENCH_QUERIES=5000 node dist/bench/run.js sql
 *   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test node dist/bench/run.js sql
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { context, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import BetterSqlite3 from 'better-sqlite3';
import { type Generated, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { Client, Pool } from 'pg';
import { Registry } from 'prom-client';
import { SqlDatabase, sqlDefaults } from '../lib/sql/index.js';
import { type Bench, formatTable, median, numberFromEnv, targetLine, tempDir } from './harness.js';

interface DB {
  todos: { id: Generated<number>; title: string };
}

/**
 * Exports nothing, so the bench measures making, ending and batching spans, not shipping them.
 * Behind a BatchSpanProcessor with the context manager, as the OpenTelemetry SDK runs an app's
 * tracing (OTEL_TRACES_EXPORTER=otlp); a SimpleSpanProcessor exports span by span, which is for tests.
 */
const dropSpans: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};

interface Round {
  /** Queries per second of wall time. */
  readonly rate: number;
  /** This process's CPU time per query, µs (which the machine's other load does not inflate). */
  readonly cpuUs: number;
}

async function pointQueries(db: Kysely<DB>, count: number): Promise<Round> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    await db
      .selectFrom('todos')
      .select(['id', 'title'])
      .where('id', '=', (i % 100) + 1)
      .executeTakeFirstOrThrow();
  }
  const used = process.cpuUsage(cpu);
  return { rate: count / ((performance.now() - start) / 1000), cpuUs: (used.user + used.system) / count };
}

async function seed(db: Kysely<DB>, idType: string): Promise<void> {
  await sql`create table if not exists todos (id ${sql.raw(idType)}, title text not null)`.execute(db);
  await db
    .insertInto('todos')
    .values(Array.from({ length: 100 }, (_, i) => ({ title: `todo ${i + 1}` })))
    .execute();
}

interface Pair {
  readonly system: string;
  readonly wrapped: Kysely<DB>;
  readonly bare: Kysely<DB>;
  close(): Promise<void>;
}

function pairOf(system: string, database: SqlDatabase<DB>, bare: Kysely<DB>, after?: () => Promise<void>): Pair {
  return {
    system,
    wrapped: database.db,
    bare,
    close: async () => {
      await bare.destroy();
      await database.stop(AbortSignal.timeout(5_000));
      await after?.();
    },
  };
}

async function sqlitePair(dir: string): Promise<Pair> {
  const file = join(dir, 'bench.sqlite');
  const settings = { ...sqlDefaults('main'), url: `sqlite:${file}` };
  const database = new SqlDatabase<DB>('main', settings, { registry: new Registry() });
  await database.start(AbortSignal.timeout(10_000));
  await seed(database.db, 'integer primary key autoincrement');
  const raw = new BetterSqlite3(file, { timeout: settings.statementTimeoutMs });
  raw.pragma('journal_mode = WAL');
  const bare = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });
  return pairOf('SQLite', database, bare);
}

async function postgresPair(baseUrl: string): Promise<Pair> {
  const name = `dionysus_bench_${process.pid}`;
  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const settings = { ...sqlDefaults('main'), url: url.toString() };
  const database = new SqlDatabase<DB>('main', settings, { registry: new Registry() });
  await database.start(AbortSignal.timeout(10_000));
  await seed(database.db, 'serial primary key');
  const pool = new Pool({
    connectionString: settings.url,
    max: settings.max,
    connectionTimeoutMillis: settings.acquireTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
  });
  // Dropping the scratch database ends the server side of connections still closing: heard, as the wrapper hears it.
  pool.on('error', () => {});
  const bare = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return pairOf('PostgreSQL', database, bare, async () => {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
}

const bench: Bench = {
  description: 'point queries/s through dionysus/sql (metrics + spans) vs bare Kysely, on SQLite and PostgreSQL',
  async run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 5);
    const queries = numberFromEnv('BENCH_QUERIES', 2_000);
    const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const provider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: dropSpans })] });
    trace.setGlobalTracerProvider(provider);
    const contexts = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contexts);
    const dir = tempDir('sql');
    const notes: string[] = [];
    const rows: string[][] = [];
    try {
      for (const make of [() => sqlitePair(dir), () => postgresPair(pgUrl)]) {
        const pair = await make();
        try {
          await pointQueries(pair.wrapped, queries / 4);
          await pointQueries(pair.bare, queries / 4);
          // Tracing on, the query either in a request its sampler kept (a span per query) or in one it dropped
          // (at OTEL_TRACES_SAMPLER_ARG=0.1, nine requests in ten): there the query records no span.
          const dropped = trace.setSpan(
            context.active(),
            trace.wrapSpanContext({
              traceId: '0af7651916cd43dd8448eb211c80319c',
              spanId: 'b7ad6b7169203331',
              traceFlags: TraceFlags.NONE,
            }),
          );
          const sides: Record<string, Round[]> = { bare: [], traced: [], unsampled: [] };
          const run: Record<string, () => Promise<Round>> = {
            bare: () => pointQueries(pair.bare, queries),
            traced: () => pointQueries(pair.wrapped, queries),
            unsampled: () => context.with(dropped, () => pointQueries(pair.wrapped, queries)),
          };
          await run.unsampled?.();
          for (let round = 0; round < rounds; round++) {
            const order = round % 2 === 0 ? ['bare', 'traced', 'unsampled'] : ['unsampled', 'traced', 'bare'];
            for (const side of order) sides[side]?.push(await (run[side] as () => Promise<Round>)());
          }
          const rate = (side: Round[]): number => median(side.map((r) => r.rate));
          const cpu = (side: Round[]): number => median(side.map((r) => r.cpuUs));
          const bare = sides.bare as Round[];
          for (const [side, label] of [
            ['traced', 'every query traced'],
            ['unsampled', 'in an unsampled request'],
          ] as const) {
            const wrapped = sides[side] as Round[];
            const ratio = rate(wrapped) / rate(bare);
            rows.push([
              `${pair.system}, ${label}`,
              rate(bare).toFixed(0),
              rate(wrapped).toFixed(0),
              ratio.toFixed(2),
              cpu(bare).toFixed(1),
              cpu(wrapped).toFixed(1),
              (cpu(bare) / cpu(wrapped)).toFixed(2),
            ]);
            notes.push(
              targetLine(`dionysus/sql on ${pair.system}, ${label}`, 'bare Kysely (medians)', ratio, 0.9, 'min'),
            );
          }
        } finally {
          await pair.close();
        }
      }
    } finally {
      trace.disable();
      context.disable();
      contexts.disable();
      await provider.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
    return {
      reports: [],
      notes: [
        `point query by primary key, one at a time; ${rounds} rounds × ${queries} queries per side, order alternated; medians`,
        '',
        ...formatTable(
          ['', 'bare queries/s', 'dionysus queries/s', '× bare', 'bare CPU µs/q', 'dionysus CPU µs/q', 'bare/dionysus'],
          rows,
        ).map((line) => `  ${line}`),
        '',
        ...notes,
      ],
    };
  },
};

export default bench;
