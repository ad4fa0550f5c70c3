import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Dialect, Kysely } from 'kysely';
import type { Pool, PoolClient } from 'pg';
import type { Registry } from 'prom-client';
import { DionysusError } from '../errors.js';
import type { HealthCheck } from '../health/health.js';
import { type Clock, systemClock } from '../lifecycle/clock.js';
import { SqlMetrics } from './metrics.js';
import { type Migrations, migrateUp, migrationStatus } from './migrations.js';
import { parseSqlUrl, type SqlSettings, type SqlTarget, sqliteFile } from './settings.js';

export interface SqlDatabaseOptions {
  /** The app's migrations (see `Migrations`); none when omitted. */
  readonly migrations?: Migrations;
  /** Where the metrics go: the command's registry. */
  readonly registry: Registry;
  /** Timers of the background ping; a fake one in tests. */
  readonly clock?: Clock;
}

/** The last word of the background ping. */
export interface SqlHealth {
  readonly ok: boolean;
  readonly error?: string;
  /** Clock time of the last answer from the database (a ping or any query). */
  readonly lastSuccessAt?: number;
}

/** After forcing, how long the pool gets to notice its sockets are gone. */
const FORCED_GRACE_MS = 100;

type State = 'new' | 'started' | 'stopping' | 'stopped';

/**
 * One database: a Kysely<DB> on SQLite (better-sqlite3) or PostgreSQL
 * (pg.Pool), its metrics and spans, a background ping feeding its health
 * checks, and its migrations. The lifecycle calls `start`, `drain` and `stop`;
 * each takes the phase's deadline as an AbortSignal.
 */
export class SqlDatabase<DB = unknown> {
  static readonly #owners = new WeakMap<object, SqlDatabase<unknown>>();

  /** The database that owns a Kysely instance made by `sqlDatabase` (what the lifecycle starts and stops). */
  static of<DB>(db: Kysely<DB>): SqlDatabase<DB> {
    const owner = SqlDatabase.#owners.get(db);
    if (!owner)
      throw new DionysusError('internal', 'SqlDatabase.of: this Kysely instance was not made by sqlDatabase()');
    return owner as SqlDatabase<DB>;
  }

  readonly name: string;
  readonly settings: SqlSettings;
  readonly target: SqlTarget;
  /** The query builder the app injects with `@InjectSql(name)`. */
  readonly db: Kysely<DB>;
  readonly migrations: Migrations;
  readonly #clock: Clock;
  #pool: Pool | undefined;
  #sqlite: BetterSqlite3.Database | undefined;
  #state: State = 'new';
  #health: SqlHealth = { ok: false, error: 'not started yet' };
  #pending: readonly string[] = [];
  #timer: unknown;
  #ping: Promise<void> | undefined;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #stopped: Promise<void> | undefined;
  #migrating = false;

  constructor(name: string, settings: SqlSettings, options: SqlDatabaseOptions) {
    const target = parseSqlUrl(settings.url);
    if (typeof target === 'string') {
      throw new DionysusError('config', `dionysus.sql.${name}.url: ${JSON.stringify(settings.url)} ${target}`, {
        expose: true,
      });
    }
    this.name = name;
    this.settings = settings;
    this.target = target;
    this.migrations = options.migrations ?? {};
    this.#clock = options.clock ?? systemClock;
    const { Kysely } = require('kysely') as typeof import('kysely');
    const metrics = new SqlMetrics(options.registry, name, {
      idle: () => (this.#pool ? this.#pool.idleCount : this.#sqlite ? 1 - this.#inFlight : 0),
      used: () => (this.#pool ? this.#pool.totalCount - this.#pool.idleCount : this.#sqlite ? this.#inFlight : 0),
      max: () => (this.#pool ? settings.max : 1),
    });
    // Loaded with a database, not with dionysus/sql: it imports @opentelemetry/api.
    const { instrumentDialect } = require('./instrument.js') as typeof import('./instrument.js');
    const dialect = instrumentDialect(this.#dialect(), {
      metrics,
      system: target.system,
      attributes: this.#attributes(),
      begin: () => this.#inFlight++,
      end: (answered) => {
        if (answered) this.#answered();
        if (--this.#inFlight === 0 && this.#idle.length > 0) for (const resolve of this.#idle.splice(0)) resolve();
      },
      // pg-pool's own words when no connection was free within connectionTimeoutMillis.
      isAcquireTimeout: (error) => /timeout exceeded when trying to connect/i.test((error as Error)?.message ?? ''),
    });
    this.db = new Kysely<DB>({ dialect });
    SqlDatabase.#owners.set(this.db, this as SqlDatabase<unknown>);
  }

  /** `sql:<name>`: its checks' name, and how the lifecycle names its start and stop. */
  get label(): string {
    return `sql:${this.name}`;
  }

  /** Among independent parts, a database starts first and ends last: after Redis clients and pools stopped. */
  readonly order = -20;

  /**
   * Leaves the migrations alone at start, whatever `migrations.onStartup` says: the `migrate`
   * commands own them (`onStartup: apply` must not apply what `migrate down` is about to revert).
   */
  forMigrations(): this {
    this.#migrating = true;
    return this;
  }

  /** Where the database is, without a password, for messages. */
  get location(): string {
    if (this.target.system === 'sqlite') return `sqlite:${this.target.file}`;
    const url = new URL(this.target.url);
    if (url.password) url.password = '***';
    return url.toString();
  }

  /** The health the background ping found last. */
  get health(): SqlHealth {
    return { ...this.#health };
  }

  /** The database answered a query: healthy since now. Every query comes here, so a healthy record only moves its time. */
  #answered(): void {
    const now = this.#clock.now();
    if (this.#health.ok) (this.#health as { lastSuccessAt?: number }).lastSuccessAt = now;
    else this.#health = { ok: true, lastSuccessAt: now };
  }

  /** Pending migrations found at start (`migrations.onStartup: check`). */
  get pendingMigrations(): readonly string[] {
    return this.#pending;
  }

  /**
   * Opens the database, pings it once, then checks or applies migrations
   * (`migrations.onStartup`), and starts the background ping. Throws naming
   * the database when it cannot be reached before the deadline.
   */
  async start(deadline: AbortSignal): Promise<void> {
    if (this.#state !== 'new') return;
    this.#state = 'started';
    try {
      await this.#start(deadline);
    } catch (error) {
      // The lifecycle stops only what started: a failed start ends the pool it opened itself.
      await this.stop(AbortSignal.timeout(FORCED_GRACE_MS));
      throw error;
    }
  }

  async #start(deadline: AbortSignal): Promise<void> {
    await this.#bounded(this.#pingOnce(), deadline, 'start');
    if (!this.#health.ok) {
      throw new DionysusError(
        'run',
        `sql:${this.name}: cannot reach ${this.location}: ${this.#health.error}; check dionysus.sql.${this.name}.url${this.name === 'main' ? ' or DATABASE_URL' : ''}`,
        { expose: true },
      );
    }
    const { onStartup } = this.settings.migrations;
    const db = this.db as Kysely<unknown>;
    if (Object.keys(this.migrations).length === 0 || this.#migrating) {
      // An app without migrations leaves the schema alone: no migration tables, no queries.
    } else if (onStartup === 'apply') await this.#bounded(migrateUp(db, this.migrations), deadline, 'start');
    else if (onStartup === 'check') {
      this.#pending = (await this.#bounded(migrationStatus(db, this.migrations), deadline, 'start')).pending;
    }
    this.#schedule();
  }

  /** Lets queries in flight finish (until the deadline); new ones still run, for Shutdown and PostRun hooks. */
  async drain(deadline: AbortSignal): Promise<void> {
    if (this.#inFlight === 0 || deadline.aborted) return;
    await new Promise<void>((resolve) => {
      this.#idle.push(resolve);
      deadline.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /**
   * Ends the pool: waits for connections to be returned and closed until the
   * deadline, then destroys their sockets, so a database that is down (or a
   * query that hangs) never holds the stop. Calling it twice is harmless.
   */
  stop(deadline: AbortSignal): Promise<void> {
    this.#stopped ??= this.#stop(deadline);
    return this.#stopped;
  }

  async #stop(deadline: AbortSignal): Promise<void> {
    this.#state = 'stopping';
    this.#clock.clearTimeout(this.#timer);
    const ended = this.db.destroy().catch(() => undefined);
    const forced = await Promise.race([ended.then(() => false), abortOf(deadline).then(() => true)]);
    if (forced) {
      // pg-pool has no forced end: destroying each client's socket fails its query and lets end() finish.
      const clients = ((this.#pool as unknown as { _clients?: PoolClient[] })?._clients ?? []) as unknown as {
        connection?: { stream?: { destroy(): void } };
      }[];
      for (const client of clients) client.connection?.stream?.destroy();
      await within(this.#clock, ended, FORCED_GRACE_MS, undefined);
    }
    this.#state = 'stopped';
    this.#health = { ok: false, error: 'stopped' };
  }

  /**
   * The checks `sql:<name>` for the startup and readiness probes (never
   * liveness: a database outage must not restart the pod). They read the
   * cached ping result and open no connection. Startup also fails while
   * migrations are pending (`onStartup: check`). A non-critical database's
   * checks never fail.
   */
  checks(): HealthCheck[] {
    const name = `sql:${this.name}`;
    const timeoutMs = this.settings.health.timeoutMs;
    return [
      { probe: 'startup', name, timeoutMs, run: () => this.#verdict(true) },
      { probe: 'readiness', name, timeoutMs, run: () => this.#verdict(false) },
    ];
  }

  /** Throws what is wrong with the database, as a check does; a non-critical database only reports. */
  #verdict(startup: boolean): string {
    const problem = this.#problem(startup);
    if (problem === undefined) return 'ok';
    if (!this.settings.health.critical) return `degraded (not critical): ${problem}`;
    throw new Error(problem);
  }

  #problem(startup: boolean): string | undefined {
    if (startup && this.#pending.length > 0) {
      return `${this.#pending.length} migration${this.#pending.length === 1 ? '' : 's'} pending (${this.#pending.join(', ')}); run \`${this.name === 'main' ? 'migrate up' : `migrate ${this.name} up`}\` or set dionysus.sql.${this.name}.migrations.onStartup to apply`;
    }
    return this.#health.ok ? undefined : `${this.location}: ${this.#health.error}`;
  }

  #schedule(): void {
    if (this.#state !== 'started') return;
    const { intervalMs } = this.settings.health;
    this.#timer = this.#clock.setTimeout(() => {
      void this.#tick().finally(() => this.#schedule());
    }, intervalMs);
    (this.#timer as { unref?: () => void })?.unref?.();
  }

  async #tick(): Promise<void> {
    const { intervalMs } = this.settings.health;
    const last = this.#health.lastSuccessAt;
    // A query answered within the interval says as much as a ping.
    if (this.#health.ok && last !== undefined && this.#clock.now() - last < intervalMs) return;
    // Every connection is in use: a ping would only queue behind the app's queries, and the
    // verdict is the last query's (a busy pool whose last query succeeded is healthy).
    if (this.#busy() && last !== undefined) return;
    await this.#pingOnce();
  }

  #busy(): boolean {
    const pool = this.#pool;
    return pool !== undefined && pool.idleCount === 0 && pool.totalCount >= this.settings.max;
  }

  /** One ping under the health timeout; a ping still running is not doubled. */
  #pingOnce(): Promise<void> {
    this.#ping ??= this.#runPing().finally(() => {
      this.#ping = undefined;
    });
    return this.#ping;
  }

  async #runPing(): Promise<void> {
    const { timeoutMs } = this.settings.health;
    const started = this.#clock.now();
    const answer = this.#pingQuery().then(
      () => undefined,
      (error: Error) => error.message || String(error),
    );
    const result = await within(this.#clock, answer, timeoutMs, `no answer to a ping within ${timeoutMs} ms`);
    if (result === undefined) this.#health = { ok: true, lastSuccessAt: this.#clock.now() };
    else if ((this.#health.lastSuccessAt ?? -Infinity) < started) {
      // A query that succeeded while the ping waited proves the database answers: keep its word.
      this.#health = { ...this.#health, ok: false, error: result };
    }
  }

  async #pingQuery(): Promise<void> {
    if (this.target.system === 'sqlite') {
      (await this.#openSqlite()).prepare('select 1').get();
      return;
    }
    await (this.#pool as Pool).query('select 1');
  }

  #dialect(): Dialect {
    const { settings, target } = this;
    if (target.system === 'sqlite') {
      const { SqliteDialect } = require('kysely') as typeof import('kysely');
      return new SqliteDialect({ database: () => this.#openSqlite() });
    }
    const { PostgresDialect } = require('kysely') as typeof import('kysely');
    const pg = require('pg') as typeof import('pg');
    const pool = new pg.Pool({
      connectionString: target.url,
      max: settings.max,
      connectionTimeoutMillis: settings.acquireTimeoutMs,
      idleTimeoutMillis: settings.idleTimeoutMs,
      statement_timeout: settings.statementTimeoutMs,
      // Set in the URL (`?application_name=`) to tell replicas apart in pg_stat_activity.
      application_name: `dionysus-${this.name}`,
    });
    // A client losing its server emits 'error': on the pool while idle, on the client while checked
    // out (its query fails too). Unheard, either would end the process.
    const lost = (error: Error): void => {
      this.#health = { ...this.#health, ok: false, error: `connection lost: ${error.message}` };
    };
    pool.on('error', lost);
    pool.on('connect', (client) => client.on('error', lost));
    this.#pool = pool;
    return new PostgresDialect({ pool });
  }

  async #openSqlite(): Promise<BetterSqlite3.Database> {
    if (this.#sqlite) return this.#sqlite;
    if (this.target.system !== 'sqlite') throw new Error('not a SQLite database');
    const file = sqliteFile(this.target.file);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const Database = require('better-sqlite3') as typeof BetterSqlite3;
    const db = new Database(file, { timeout: this.settings.statementTimeoutMs });
    // WAL lets readers run beside the writer; a memory database has no journal file.
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    this.#sqlite = db;
    return db;
  }

  #attributes(): Record<string, string | number> {
    if (this.target.system === 'sqlite') return { 'db.namespace': this.target.file };
    const url = new URL(this.target.url);
    return {
      'db.namespace': decodeURIComponent(url.pathname.slice(1)),
      'server.address': url.hostname,
      'server.port': Number(url.port || 5432),
    };
  }

  async #bounded<T>(work: Promise<T>, deadline: AbortSignal, phase: string): Promise<T> {
    const aborted = abortOf(deadline).then(() => {
      throw new DionysusError('timeout', `sql:${this.name}: ${phase} did not finish before its deadline`);
    });
    return Promise.race([work, aborted]);
  }
}

function abortOf(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** `work`'s value, or `late` when it has not settled within `ms`. */
async function within<T, L>(clock: Clock, work: Promise<T>, ms: number, late: L): Promise<T | L> {
  let handle: unknown;
  const timeout = new Promise<L>((resolve) => {
    handle = clock.setTimeout(() => resolve(late), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clock.clearTimeout(handle);
  }
}
