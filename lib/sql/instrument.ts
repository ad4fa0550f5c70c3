import { context, type Span, SpanKind, SpanStatusCode, TraceFlags, type Tracer, trace } from '@opentelemetry/api';
import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { tracerProviderSet } from '../telemetry/tracer-set.js';
import type { SqlMetrics } from './metrics.js';

/** What an instrumented driver reports to: the database's metrics, health and tracer. */
export interface QueryObserver {
  readonly metrics: SqlMetrics;
  /** `sqlite` or `postgresql`, OpenTelemetry's `db.system.name`. */
  readonly system: string;
  /** Span attributes every query carries (`db.namespace`, `server.address`…). */
  readonly attributes: Readonly<Record<string, string | number>>;
  /** A query starts. */
  begin(): void;
  /**
   * A query ended; `answered`: the database answered it, with rows or with an
   * error of its own (a SQL error says the server is up; a lost connection does not).
   */
  end(answered: boolean): void;
  /** Waiting for a connection failed because none was free in time. */
  isAcquireTimeout(error: unknown): boolean;
}

// Kysely's node kinds name the operation of every built query; raw SQL is named by its first word.
const KINDS: Record<string, string> = {
  SelectQueryNode: 'SELECT',
  InsertQueryNode: 'INSERT',
  UpdateQueryNode: 'UPDATE',
  DeleteQueryNode: 'DELETE',
  MergeQueryNode: 'MERGE',
};
// A closed set keeps the operation label's cardinality bounded whatever SQL an app sends.
const WORDS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'WITH',
  'CREATE',
  'ALTER',
  'DROP',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'PRAGMA',
  'SET',
  'SHOW',
  'TRUNCATE',
  'VACUUM',
  'ANALYZE',
  'EXPLAIN',
  'LOCK',
  'COPY',
  'VALUES',
]);

/** Operations of raw SQL by statement text: a text's first word is read once (bounded, as apps send few texts). */
const RAW_OPERATIONS = new Map<string, string>();
const RAW_OPERATIONS_MAX = 1_000;

/** The operation of a compiled query, from a closed set: SELECT, INSERT, …, or OTHER. */
export function operationOf(query: CompiledQuery): string {
  const kind = KINDS[query.query.kind];
  if (kind) return kind;
  const known = RAW_OPERATIONS.get(query.sql);
  if (known) return known;
  const word = /^\s*([a-zA-Z]+)/.exec(query.sql)?.[1]?.toUpperCase();
  const operation = word && WORDS.has(word) ? word : 'OTHER';
  if (RAW_OPERATIONS.size < RAW_OPERATIONS_MAX) RAW_OPERATIONS.set(query.sql, operation);
  return operation;
}

/**
 * Wraps a Kysely dialect so that every query through it is timed, counted by
 * operation and outcome, and traced with its parameterised statement (never
 * the values). A wrapper of the driver, not a patch of the library, so it
 * works from a bundle too; it sees the connection wait and the real query time,
 * which a log hook or a plugin do not.
 */
export function instrumentDialect(dialect: Dialect, observer: QueryObserver): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db: Kysely<unknown>) => dialect.createIntrospector(db),
    createDriver: () => new InstrumentedDriver(dialect.createDriver(), observer),
  };
}

class InstrumentedDriver implements Driver {
  readonly #inner: Driver;
  readonly #observer: QueryObserver;
  /** The wrapper of each of the driver's connections, made once: the drivers reuse their connections. */
  readonly #wrapped = new WeakMap<DatabaseConnection, InstrumentedConnection>();

  constructor(inner: Driver, observer: QueryObserver) {
    this.#inner = inner;
    this.#observer = observer;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  // Promise reactions rather than `async` frames: the wrapper adds two promises to a query instead of
  // four (bare Kysely makes 23 for a SQLite point query), each of which costs hook calls while an
  // AsyncLocalStorage is on (bench/sql, target ≥ 0.9× bare Kysely).
  acquireConnection(): Promise<DatabaseConnection> {
    const { metrics } = this.#observer;
    const start = performance.now();
    metrics.acquiring();
    const waited = (): void => {
      metrics.acquired();
      metrics.waitTime.observe((performance.now() - start) / 1000);
    };
    return this.#inner.acquireConnection().then(
      (inner) => {
        waited();
        let wrapped = this.#wrapped.get(inner);
        if (!wrapped) {
          wrapped = new InstrumentedConnection(inner, this.#observer);
          this.#wrapped.set(inner, wrapped);
        }
        return wrapped;
      },
      (error: unknown) => {
        waited();
        if (this.#observer.isAcquireTimeout(error)) metrics.timeouts.inc();
        throw error;
      },
    );
  }

  // Transactions run on the driver's own connection object: the drivers keep private state on it.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(this.#innerOf(connection), settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(this.#innerOf(connection));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(this.#innerOf(connection));
  }

  async savepoint(c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.savepoint?.(this.#innerOf(c), name, compile);
  }

  async rollbackToSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#inner.rollbackToSavepoint?.(this.#innerOf(c), name, compile);
  }

  async releaseSavepoint(c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.#inner.releaseSavepoint?.(this.#innerOf(c), name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(this.#innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }

  #innerOf(connection: DatabaseConnection): DatabaseConnection {
    return connection instanceof InstrumentedConnection ? connection.inner : connection;
  }
}

/** A driver's connection whose queries are timed, counted and traced. */
class InstrumentedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  readonly #observer: QueryObserver;
  readonly #tracer: Tracer;
  /** Span attributes every query of this database carries, with the operation and the statement first. */
  readonly #attributes: Readonly<Record<string, string | number>>;

  constructor(inner: DatabaseConnection, observer: QueryObserver) {
    this.inner = inner;
    this.#observer = observer;
    this.#tracer = trace.getTracer('dionysus');
    this.#attributes = { 'db.system.name': observer.system, ...observer.attributes };
  }

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const observer = this.#observer;
    const operation = operationOf(query);
    const span = this.#span(operation, query);
    const start = performance.now();
    observer.begin();
    let result: Promise<QueryResult<R>>;
    try {
      result = this.inner.executeQuery<R>(query);
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      (value) => {
        observer.metrics.observe(operation, 'ok', (performance.now() - start) / 1000);
        observer.end(true);
        span?.end();
        return value;
      },
      (error: unknown) => {
        observer.metrics.observe(operation, 'error', (performance.now() - start) / 1000);
        if (span) {
          const type = (error as { code?: unknown }).code ?? (error as Error).name ?? 'Error';
          span.setAttribute('error.type', String(type));
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        }
        observer.end(answeredBy(error));
        span?.end();
        throw error;
      },
    );
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    // A stream's duration is the consumer's pace: counted, not timed as one operation.
    return this.inner.streamQuery<R>(query, chunkSize);
  }

  /**
   * The query's client span; none when no tracer provider is set, or when the query runs in a span
   * its sampler dropped (a request outside the sampled ratio): nothing would record it, and its
   * parent never reaches the backend. A span costs ~6 µs, a tenth of a SQLite point query.
   */
  #span(operation: string, query: CompiledQuery): Span | undefined {
    if (!tracerProviderSet()) return undefined;
    const parent = trace.getSpan(context.active())?.spanContext();
    if (parent && (parent.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
    const attributes: Record<string, string | number> = {
      'db.operation.name': operation,
      'db.query.text': query.sql,
    };
    const base = this.#attributes;
    for (const key in base) attributes[key] = base[key] as string | number;
    return this.#tracer.startSpan(operation, { kind: SpanKind.CLIENT, attributes });
  }
}

/** Whether an error came from the database itself: a SQLSTATE (PostgreSQL) or a SQLITE_ code. */
function answeredBy(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || code.startsWith('SQLITE_'));
}
