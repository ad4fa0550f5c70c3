import { expect } from 'chai';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../lib/telemetry/fast-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
type Label = 'pool_name' | 'outcome';

/** A prom-client Histogram and a FastHistogram of the same family, each on a registry with default labels. */
function pair(): { prom: Histogram<Label>; fast: FastHistogram<Label>; texts: () => Promise<[string, string]> } {
  const registries = [new Registry(), new Registry()] as const;
  for (const registry of registries) registry.setDefaultLabels({ app: 'app', command: 'http' });
  const options = { name: 'x_seconds', help: 'How long x took.', labelNames: ['pool_name', 'outcome'] as Label[] };
  const prom = new Histogram({ ...options, buckets: BUCKETS, registers: [registries[0]] });
  const fast = new FastHistogram({ ...options, buckets: [...BUCKETS].reverse(), registers: [registries[1]] });
  return { prom, fast, texts: async () => [await registries[0].metrics(), await registries[1].metrics()] };
}

describe('FastHistogram (the hand-written histogram of the hot paths)', () => {
  it('prints what a prom-client Histogram of the same name, help, labels and buckets prints', async () => {
    const { prom, fast, texts } = pair();
    const observations: [Record<Label, string>, number][] = [
      [{ pool_name: 'jobs', outcome: 'ok' }, 0.0005],
      [{ pool_name: 'jobs', outcome: 'ok' }, 0.001],
      [{ pool_name: 'mail', outcome: 'error' }, 0.2],
      [{ pool_name: 'jobs', outcome: 'ok' }, 7],
      [{ pool_name: 'mail', outcome: 'error' }, 0.05],
    ];
    const bound = new Map<string, { observe(seconds: number): void }>();
    for (const [labels, seconds] of observations) {
      prom.labels(labels).observe(seconds);
      const key = JSON.stringify(labels);
      if (!bound.has(key)) bound.set(key, fast.labels(labels));
      bound.get(key)?.observe(seconds);
    }
    prom.observe({ pool_name: 'jobs', outcome: 'timeout' }, 0.3);
    fast.observe({ pool_name: 'jobs', outcome: 'timeout' }, 0.3);
    const [expected, actual] = await texts();
    expect(actual).to.equal(expected);
    expect(actual).to.include('x_seconds_bucket{le="0.001",app="app",command="http",pool_name="jobs",outcome="ok"} 2');
  });

  it('shows a series once observed or zeroed; reset and remove hide it until it is observed again', async () => {
    const { prom, fast, texts } = pair();
    const series = fast.labels({ pool_name: 'jobs', outcome: 'ok' });
    prom.labels({ pool_name: 'jobs', outcome: 'ok' });
    expect((await texts())[1]).to.equal((await texts())[0]);
    expect((await texts())[1]).to.not.include('pool_name="jobs"');
    prom.zero({ pool_name: 'idle', outcome: 'ok' });
    fast.zero({ pool_name: 'idle', outcome: 'ok' });
    expect((await texts())[1]).to.equal((await texts())[0]);
    series.observe(0.02);
    prom.labels({ pool_name: 'jobs', outcome: 'ok' }).observe(0.02);
    prom.reset();
    fast.reset();
    expect((await texts())[1]).to.equal((await texts())[0]);
    series.observe(0.5);
    prom.labels({ pool_name: 'jobs', outcome: 'ok' }).observe(0.5);
    const [expected, actual] = await texts();
    expect(actual).to.equal(expected);
    expect(actual).to.include('x_seconds_count{app="app",command="http",pool_name="jobs",outcome="ok"} 1');
    fast.remove({ pool_name: 'jobs', outcome: 'ok' });
    expect((await texts())[1]).to.not.include('pool_name="jobs"');
  });

  it('gives the registry’s JSON the values a prom-client Histogram gives', async () => {
    const registries = [new Registry(), new Registry()];
    const options = { name: 'y_seconds', help: 'y', labelNames: ['pool_name'], buckets: BUCKETS };
    const prom = new Histogram({ ...options, registers: [registries[0] as Registry] });
    const fast = new FastHistogram({ ...options, registers: [registries[1] as Registry] });
    prom.observe({ pool_name: 'jobs' }, 0.05);
    fast.labels({ pool_name: 'jobs' }).observe(0.05);
    const json = await Promise.all(registries.map((r) => r.getMetricsAsJSON()));
    const plain = (metrics: unknown) =>
      (metrics as { values: { metricName: string; labels: object; value: number }[] }[])[0]?.values.map(
        ({ metricName, labels, value }) => ({ metricName, labels, value }),
      );
    expect(plain(json[1])).to.deep.equal(plain(json[0]));
  });

  it('refuses what prom-client refuses: an le label, a label it was not given, a value that is not a number', () => {
    expect(() => new FastHistogram({ name: 'z', help: 'z', labelNames: ['le'], buckets: BUCKETS })).to.throw(
      /le is a reserved label/,
    );
    const fast = new FastHistogram<string>({ name: 'z', help: 'z', labelNames: ['pool_name'], buckets: BUCKETS });
    expect(() => fast.labels({ route: '/' })).to.throw(/Added label "route" is not included/);
    expect(() => fast.observe({ pool_name: 'jobs' }, Number.NaN)).to.throw(TypeError);
  });
});
