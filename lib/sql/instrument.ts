import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
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

/** The operation of a compiled query, from a closed set: SELECT, INSERT, …, or OTHER. */
export function operationOf(query: CompiledQuery): string {
  const kind = KINDS[query.query.kind];
  if (kind) return kind;
  const word = /^\s*([a-zA-Z]+)/.exec(query.sql)?.[1]?.toUpperCase();
  return word && WORDS.has(word) ? word : 'OTHER';
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
  readonly #unwrap = new WeakMap<DatabaseConnection, DatabaseConnection>();
  readonly #tracer = trace.getTracer('dionysus');

  constructor(inner: Driver, observer: QueryObserver) {
    this.#inner = inner;
    this.#observer = observer;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const { metrics } = this.#observer;
    const start = performance.now();
    metrics.pending.inc();
    try {
      const inner = await this.#inner.acquireConnection();
      const wrapped = this.#wrap(inner);
      this.#unwrap.set(wrapped, inner);
      return wrapped;
    } catch (error) {
      if (this.#observer.isAcquireTimeout(error)) metrics.timeouts.inc();
      throw error;
    } finally {
      metrics.pending.dec();
      metrics.waitTime.observe((performance.now() - start) / 1000);
    }
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
    return this.#unwrap.get(connection) ?? connection;
  }

  #wrap(inner: DatabaseConnection): DatabaseConnection {
    const observe = this.#observe.bind(this);
    return {
      executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
        observe(query, () => inner.executeQuery<R>(query)),
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> =>
        // A stream's duration is the consumer's pace: counted, not timed as one operation.
        inner.streamQuery<R>(query, chunkSize),
    };
  }

  async #observe<T>(query: CompiledQuery, run: () => Promise<T>): Promise<T> {
    const observer = this.#observer;
    const operation = operationOf(query);
    const span: Span = this.#tracer.startSpan(operation, {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': observer.system,
        'db.operation.name': operation,
        'db.query.text': query.sql,
        ...observer.attributes,
      },
    });
    const start = performance.now();
    observer.begin();
    let answered = false;
    try {
      const result = await run();
      observer.metrics.duration(operation, 'ok').observe((performance.now() - start) / 1000);
      answered = true;
      return result;
    } catch (error) {
      answered = answeredBy(error);
      observer.metrics.duration(operation, 'error').observe((performance.now() - start) / 1000);
      const type = (error as { code?: unknown }).code ?? (error as Error).name ?? 'Error';
      span.setAttribute('error.type', String(type));
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      observer.end(answered);
      span.end();
    }
  }
}

/** Whether an error came from the database itself: a SQLSTATE (PostgreSQL) or a SQLITE_ code. */
function answeredBy(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || code.startsWith('SQLITE_'));
}
