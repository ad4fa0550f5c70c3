import { Counter, Gauge, type Registry } from 'prom-client';
import { FastHistogram } from '../telemetry/fast-histogram.js';

/** How a task ended, as `dionysus_pool_tasks_total` counts it. */
export type TaskOutcome = 'ok' | 'error' | 'rejected' | 'timeout' | 'dropped';

export const OUTCOMES: readonly TaskOutcome[] = ['ok', 'error', 'rejected', 'timeout', 'dropped'];

/** What the gauges read from a pool at each scrape. */
export interface PoolState {
  readonly name: string;
  readonly capacity: number;
  readonly running: number;
  readonly waiting: number;
}

/** One pool's metric children, labelled once: the task path only observes. */
export interface PoolObserver {
  /** A task started after waiting `seconds` in the queue. */
  waited(seconds: number): void;
  /** A task that started ended after running `seconds`. */
  ran(seconds: number): void;
  count(outcome: TaskOutcome): void;
  /** The pool is gone: its series leave the registry. */
  close(): void;
}

const LATENCY_BUCKETS = [0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LABEL = 'pool_name';

/**
 * The pool metric families of one registry, shared by all its pools and
 * labelled by pool name only, so cardinality is the number of pools. Names
 * follow OpenTelemetry's conventions for pools (`db.client.connection.*`:
 * `pool.name`, `wait_time`, counts by state) as Prometheus spells them.
 */
class PoolFamilies {
  readonly #pools = new Map<PoolState, Tally>();
  // Observed for every task: hand-written histograms (bench/pool's targets; see FastHistogram).
  readonly duration: FastHistogram<typeof LABEL>;
  readonly waitTime: FastHistogram<typeof LABEL>;
  readonly tasks: Counter<typeof LABEL | 'outcome'>;

  constructor(registry: Registry) {
    const pools = this.#pools;
    const gauge = (name: string, help: string, read: (pool: PoolState) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: [LABEL],
        registers: [registry],
        collect() {
          this.reset();
          for (const pool of pools.keys()) this.set({ [LABEL]: pool.name }, read(pool));
        },
      });
    };
    gauge(
      'dionysus_pool_capacity',
      'Tasks a pool runs at once (its size; worker threads for a CPU pool).',
      (p) => p.capacity,
    );
    gauge('dionysus_pool_tasks_running', 'Tasks running in a pool.', (p) => p.running);
    gauge('dionysus_pool_tasks_waiting', 'Tasks accepted by a pool, waiting for a worker.', (p) => p.waiting);
    this.duration = new FastHistogram({
      name: 'dionysus_pool_task_duration_seconds',
      help: 'How long the tasks of a pool ran, from their start to their end.',
      labelNames: [LABEL],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.waitTime = new FastHistogram({
      name: 'dionysus_pool_task_wait_time_seconds',
      help: 'How long the tasks of a pool waited in its queue before they started.',
      labelNames: [LABEL],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.tasks = new Counter({
      name: 'dionysus_pool_tasks_total',
      help: 'Tasks submitted to a pool, by outcome: ok, error (the task failed), rejected (full or closed), timeout (no room in time), dropped (the drain deadline passed).',
      labelNames: [LABEL, 'outcome'],
      registers: [registry],
      // Each task adds to a plain tally; the counter takes the tallies when read.
      collect() {
        for (const tally of pools.values()) tally.flush();
      },
    });
  }

  add(pool: PoolState): PoolObserver {
    const labels = { [LABEL]: pool.name };
    const duration = this.duration.labels(labels);
    const waitTime = this.waitTime.labels(labels);
    // Every outcome is a series from the start, so a rate over it exists before the first failure.
    for (const outcome of OUTCOMES) this.tasks.inc({ ...labels, outcome }, 0);
    const tally = new Tally(this.tasks, pool.name);
    this.#pools.set(pool, tally);
    return {
      waited: (seconds) => waitTime.observe(seconds),
      ran: (seconds) => duration.observe(seconds),
      count: (outcome) => {
        tally[outcome]++;
      },
      close: () => {
        tally.flush();
        this.#pools.delete(pool);
      },
    };
  }
}

/** A pool's task counts by outcome since the counter last read them. */
class Tally implements Record<TaskOutcome, number> {
  ok = 0;
  error = 0;
  rejected = 0;
  timeout = 0;
  dropped = 0;
  readonly #children: Record<TaskOutcome, Counter.Internal>;

  constructor(counter: Counter<typeof LABEL | 'outcome'>, pool: string) {
    this.#children = Object.fromEntries(
      OUTCOMES.map((outcome) => [outcome, counter.labels({ [LABEL]: pool, outcome })]),
    ) as Record<TaskOutcome, Counter.Internal>;
  }

  flush(): void {
    for (const outcome of OUTCOMES) {
      if (this[outcome] === 0) continue;
      this.#children[outcome].inc(this[outcome]);
      this[outcome] = 0;
    }
  }
}

const families = new WeakMap<Registry, PoolFamilies>();

/** Registers `pool` on `registry` (the command's, where the framework's metrics are). */
export function observePool(registry: Registry, pool: PoolState): PoolObserver {
  let found = families.get(registry);
  if (!found) families.set(registry, (found = new PoolFamilies(registry)));
  return found.add(pool);
}
