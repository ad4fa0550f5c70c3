import type { Counter, Gauge, Registry } from 'prom-client';
import { FastHistogram, type HistogramSeries } from '../telemetry/fast-histogram.js';

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What a database's pool says about itself, read when the registry is scraped. */
export interface PoolState {
  idle(): number;
  used(): number;
  max(): number;
}

/** A metric family shared by every database of a registry: made once, found by name after. */
function family<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

const pools = new WeakMap<Registry, Map<string, PoolState>>();
/** The databases of a registry, whose pending requests its gauge reads at each scrape. */
const databases = new WeakMap<Registry, Map<string, SqlMetrics>>();

/**
 * One database's metrics, named after OpenTelemetry's database semantic
 * conventions (`db.client.*`), labelled by database name, operation
 * (SELECT, INSERT…, never the SQL) and outcome, so cardinality stays bounded.
 */
export class SqlMetrics {
  /** Requests waiting for a pool connection now: set from `acquiring`/`acquired` at each scrape. */
  readonly pending: Gauge.Internal<string>;
  /** Waits for a connection that ran out of time. */
  readonly timeouts: Counter.Internal;
  /** Time spent waiting for a pool connection. */
  readonly waitTime: HistogramSeries;
  // Observed for every query: hand-written histograms (bench/sql's target; see FastHistogram).
  readonly #duration: FastHistogram<'database' | 'operation' | 'outcome'>;
  /** Duration series by operation, then outcome: made once each, as this is on every query's path. */
  readonly #children = new Map<string, { ok?: HistogramSeries; error?: HistogramSeries }>();
  readonly #database: string;
  /** Requests waiting for a connection: a plain count on the query path, the gauge's value when scraped. */
  #pending = 0;

  constructor(registry: Registry, database: string, pool: PoolState) {
    this.#database = database;
    // Loaded with the first database: importing dionysus/sql leaves prom-client unloaded.
    const { Counter, Gauge } = require('prom-client') as typeof import('prom-client');
    const registers = [registry];
    const states = pools.get(registry) ?? new Map<string, PoolState>();
    pools.set(registry, states);
    states.set(database, pool);
    family(
      registry,
      'db_client_connection_count',
      () =>
        new Gauge({
          name: 'db_client_connection_count',
          help: 'Connections of the pool by state (idle, used).',
          labelNames: ['database', 'state'],
          registers,
          collect() {
            for (const [name, state] of states) {
              this.set({ database: name, state: 'idle' }, state.idle());
              this.set({ database: name, state: 'used' }, state.used());
            }
          },
        }),
    );
    family(
      registry,
      'db_client_connection_max',
      () =>
        new Gauge({
          name: 'db_client_connection_max',
          help: 'Most connections the pool opens.',
          labelNames: ['database'],
          registers,
          collect() {
            for (const [name, state] of states) this.set({ database: name }, state.max());
          },
        }),
    );
    const counted = databases.get(registry) ?? new Map<string, SqlMetrics>();
    databases.set(registry, counted);
    counted.set(database, this);
    const pending = family(
      registry,
      'db_client_connection_pending_requests',
      () =>
        new Gauge({
          name: 'db_client_connection_pending_requests',
          help: 'Requests waiting for a pool connection.',
          labelNames: ['database'],
          registers,
          collect() {
            for (const [name, metrics] of counted) this.set({ database: name }, metrics.#pending);
          },
        }),
    );
    this.pending = pending.labels({ database });
    pending.set({ database }, 0);
    const timeouts = family(
      registry,
      'db_client_connection_timeouts_total',
      () =>
        new Counter({
          name: 'db_client_connection_timeouts_total',
          help: 'Waits for a pool connection that timed out.',
          labelNames: ['database'],
          registers,
        }),
    );
    this.timeouts = timeouts.labels({ database });
    const waitTime = family(
      registry,
      'db_client_connection_wait_time_seconds',
      () =>
        new FastHistogram({
          name: 'db_client_connection_wait_time_seconds',
          help: 'Time to get a connection from the pool.',
          labelNames: ['database'],
          buckets: DURATION_BUCKETS,
          registers,
        }),
    );
    this.waitTime = waitTime.labels({ database });
    this.#duration = family(
      registry,
      'db_client_operation_duration_seconds',
      () =>
        new FastHistogram({
          name: 'db_client_operation_duration_seconds',
          help: 'Duration of database operations by operation (SELECT, INSERT…) and outcome (ok, error).',
          labelNames: ['database', 'operation', 'outcome'],
          buckets: DURATION_BUCKETS,
          registers,
        }),
    );
  }

  /** A request starts waiting for a pool connection. */
  acquiring(): void {
    this.#pending++;
  }

  /** A request got its connection, or gave up. */
  acquired(): void {
    this.#pending--;
  }

  /** Observes one operation's duration. */
  observe(operation: string, outcome: 'ok' | 'error', seconds: number): void {
    this.duration(operation, outcome).observe(seconds);
  }

  /** The duration series of one operation and outcome, cached: this is on every query's path. */
  duration(operation: string, outcome: 'ok' | 'error'): HistogramSeries {
    let children = this.#children.get(operation);
    if (!children) this.#children.set(operation, (children = {}));
    return (children[outcome] ??= this.#duration.labels({ database: this.#database, operation, outcome }));
  }
}
