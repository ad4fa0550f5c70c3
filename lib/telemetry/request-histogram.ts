import type { Registry } from 'prom-client';

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative), the last one being +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram for per-request observations, collected by the
 * registry like any metric. Written by hand because prom-client validates and
 * re-hashes the label set on every observe, even through a cached child:
 * ~3 µs of a request, which the HTTP throughput target (≥ 0.85× bare koa +
 * router, bench/http-throughput) cannot afford. Here a label set is bound once
 * and each observation is a bucket increment.
 */
export class RequestHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #buckets: readonly number[];
  readonly #series = new Map<string, Series>();

  constructor(options: { name: string; help: string; buckets: readonly number[]; registers: readonly Registry[] }) {
    this.name = options.name;
    this.help = options.help;
    this.#buckets = [...options.buckets].sort((a, b) => a - b);
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /** Binds a label set; the returned function records one observation in seconds. */
  bind(labels: Readonly<Record<L, string>>): (seconds: number) => void {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: new Float64Array(this.#buckets.length + 1), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    const bound = series;
    const buckets = this.#buckets;
    return (seconds) => {
      let i = 0;
      while (i < buckets.length && seconds > (buckets[i] as number)) i++;
      bound.counts[i] = (bound.counts[i] as number) + 1;
      bound.sum += seconds;
      bound.count++;
    };
  }

  /** What prom-client's registry reads at scrape time: cumulative buckets, sum and count per label set. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: object[] }> {
    const values: object[] = [];
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      this.#buckets.forEach((le, i) => {
        cumulative += counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}
