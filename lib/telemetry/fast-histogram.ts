import type { Registry } from 'prom-client';

/** One label set's observations: what a hot path holds and records into. */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** Shown at scrape time even without observations (`zero`, as prom-client's). */
  zeroed = false;
  readonly #bounds: Float64Array;

  constructor(labels: Readonly<Record<string, string>>, bounds: Float64Array) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation (seconds, for the framework's histograms): a short loop and three additions. */
  observe(value: number): void {
    const bounds = this.#bounds;
    const last = bounds.length;
    // Most observations fall in the first buckets (latencies): a scan from the start finds them soonest.
    let i = 0;
    while (i < last && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }

  /** prom-client's timer: call the returned function at the end; it records and returns the seconds. */
  startTimer(): () => number {
    const start = performance.now();
    return () => {
      const seconds = (performance.now() - start) / 1000;
      this.observe(seconds);
      return seconds;
    };
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
    this.zeroed = false;
  }
}

export interface FastHistogramOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Upper bounds, in any order; +Inf is implied. */
  buckets: readonly number[];
  registers?: readonly Registry[];
}

/** Label values by label name, as prom-client takes them. */
export type LabelValues<L extends string> = Readonly<Partial<Record<L, string | number>>>;

/** A value of a metric as prom-client's registry reads it. */
interface Value {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly sharedLabels?: Record<string, string>;
  readonly value: number;
}

/**
 * A Prometheus histogram family for hot paths, collected by prom-client's
 * registry like any metric, whose text is what a prom-client `Histogram` of
 * the same name, help, labels and buckets prints (`_bucket{le=…}`, `_sum`,
 * `_count`). Hand-written for measured targets: prom-client validates and
 * hashes the label set on every observe, even through a cached child
 * (410–800 ns), which the HTTP throughput target (bench/http-throughput), the
 * pool's submit-to-start and per-task targets (bench/pool, ≤ 1.1× bare
 * p-queue), the Redis GET target (bench/redis, ≥ 0.95× bare) and the SQL
 * point-query target (bench/sql) cannot afford. Here a label set is bound
 * once (`labels`, `bind`) and each observation is a bucket increment.
 * `observe(labels, value)`, `zero`, `remove`, `reset` and `startTimer`
 * behave as prom-client's; a series shows once observed (or zeroed).
 */
export class FastHistogram<L extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly L[];
  readonly #upperBounds: readonly number[];
  readonly #bounds: Float64Array;
  readonly #series = new Map<string, HistogramSeries>();

  constructor(options: FastHistogramOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = [...(options.labelNames ?? [])];
    for (const label of this.labelNames) {
      if (label === 'le') throw new Error('le is a reserved label keyword');
    }
    this.#upperBounds = [...options.buckets].sort((a, b) => a - b);
    this.#bounds = Float64Array.from(this.#upperBounds);
    for (const registry of options.registers ?? []) registry.registerMetric(this as never);
  }

  /** The series of a label set, made once: hold it and call its `observe` on the hot path. */
  labels(labels: LabelValues<L>): HistogramSeries {
    const names = this.labelNames;
    for (const key in labels) {
      if (!names.includes(key as L)) {
        throw new Error(`Added label "${key}" is not included in initial labelset: ${JSON.stringify(names)}`);
      }
    }
    const values: unknown[] = [];
    for (const name of names) values.push(labels[name]);
    const key = JSON.stringify(values);
    let series = this.#series.get(key);
    if (!series) {
      const own: Record<string, string> = {};
      for (const name in labels) {
        const value = labels[name];
        if (value !== undefined) own[name] = String(value);
      }
      series = new HistogramSeries(own, this.#bounds);
      this.#series.set(key, series);
    }
    return series;
  }

  /** Binds a label set; the returned function records one observation. */
  bind(labels: Readonly<Record<L, string>>): (value: number) => void {
    const series = this.labels(labels);
    return (value) => series.observe(value);
  }

  /** prom-client's `observe(labels, value)` or `observe(value)`: finds the series each time (not for hot paths). */
  observe(labels: LabelValues<L> | number, value?: number): void {
    const observed = typeof labels === 'number' ? labels : value;
    if (typeof observed !== 'number' || !Number.isFinite(observed)) {
      throw new TypeError(`Value is not a valid number: ${String(observed)}`);
    }
    this.labels(typeof labels === 'number' ? ({} as LabelValues<L>) : labels).observe(observed);
  }

  /** A timer over `labels`: the returned function records the seconds since this call and returns them. */
  startTimer(labels?: LabelValues<L>): () => number {
    return this.labels(labels ?? ({} as LabelValues<L>)).startTimer();
  }

  /** Shows the series of `labels` with zero observations (prom-client's `zero`). */
  zero(labels: LabelValues<L>): void {
    const series = this.labels(labels);
    series.clear();
    series.zeroed = true;
  }

  /** Takes the series of `labels` out of the exposition until it is observed again. */
  remove(labels: LabelValues<L>): void {
    this.labels(labels).clear();
  }

  /** Every series back to no observations; bound series keep recording (as prom-client's children do). */
  reset(): void {
    for (const series of this.#series.values()) series.clear();
  }

  /** What the registry's text exposition reads: the values of a prom-client Histogram, in its shape. */
  async getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const values: Value[] = [];
    const name = `${this.name}_bucket`;
    const upperBounds = this.#upperBounds;
    for (const series of this.#series.values()) {
      if (series.count === 0 && !series.zeroed) continue;
      const { labels, counts } = series;
      let cumulative = 0;
      for (let i = 0; i < upperBounds.length; i++) {
        cumulative += counts[i] as number;
        values.push({
          metricName: name,
          labels: { le: upperBounds[i] as number },
          sharedLabels: labels,
          value: cumulative,
        });
      }
      values.push({ metricName: name, labels: { le: '+Inf' }, sharedLabels: labels, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: {}, sharedLabels: labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: {}, sharedLabels: labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** What `getMetricsAsJSON` and the cluster aggregator read: the same values with their labels merged. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...value }) => ({
        ...value,
        labels: { ...labels, ...sharedLabels },
      })),
    };
  }
}
