import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { RedisClientType } from '@redis/client';
import { expect } from 'chai';
import { Container, injectable } from 'inversify';
import { Registry } from 'prom-client';
import { AppConfig } from '../../lib/config/app-config.js';
import { Health } from '../../lib/health/health.js';
import { systemClock } from '../../lib/lifecycle/clock.js';
import type { LifecycleEvent } from '../../lib/lifecycle/events.js';
import { InjectRedis, RedisClient, readRedisSettings, redisClient, redisDefaults } from '../../lib/redis/index.js';
import { freePort, SHARED_URL } from './servers.js';

const settings = (over: Partial<ReturnType<typeof redisDefaults>> = {}) => ({
  ...redisDefaults(),
  url: SHARED_URL,
  ...over,
});

/** The ids of the shared Redis's connections whose client name is `name`. */
async function connectionsNamed(admin: RedisClientType, name: string): Promise<string[]> {
  const list = (await admin.sendCommand(['CLIENT', 'LIST'])) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => line.split(' ')[0] as string);
}

describe('RedisClient against the machine Redis', () => {
  const prefix = `spec:redis:${randomUUID()}:`;
  const started: RedisClient[] = [];
  const start = async (name: string, registry?: Registry, clientName?: string): Promise<RedisClient> => {
    const client = new RedisClient(name, settings(), {
      registry,
      clientOptions: clientName ? { name: clientName } : undefined,
    });
    started.push(client);
    await client.start();
    return client;
  };

  afterEach(async () => {
    const cleaner = started[0];
    if (cleaner?.healthy) {
      const redis = cleaner.client as RedisClientType;
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(keys);
    }
    await Promise.all(started.splice(0).map((c) => c.stop()));
  });

  it('runs commands once started, and its checks pass', async () => {
    const client = await start('cache');
    const redis = client.client as RedisClientType;
    await redis.set(`${prefix}a`, 'one');
    expect(await redis.get(`${prefix}a`)).to.equal('one');
    expect(client.checks().map((c) => `${c.probe} ${c.name}`)).to.deep.equal([
      'startup redis:cache',
      'readiness redis:cache',
    ]);
    for (const check of client.checks()) expect(() => check.run()).not.to.throw();
  });

  it('fails the start naming the URL without its password', async () => {
    const url = `redis://app:s3cret@127.0.0.1:${await freePort()}`;
    const client = new RedisClient('cache', { ...settings(), url, connectTimeoutMs: 300 });
    started.push(client);
    const began = performance.now();
    const error = await client.start().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(performance.now() - began).to.be.below(1_500);
    expect(error?.message).to.match(
      /^redis:cache: did not connect within 300 ms to redis:\/\/app:\*\*\*@127\.0\.0\.1:\d+/,
    );
    expect(error?.message).to.include('dionysus.redis.cache.url');
    expect(error?.message).not.to.include('s3cret');
  });

  it('a readiness probe storm through the health model opens no connection', async () => {
    const name = `spec-${randomUUID().slice(0, 8)}`;
    const client = await start('cache', undefined, name);
    const admin = (await start('admin')).client as RedisClientType;
    const before = await connectionsNamed(admin, name);
    expect(before).to.have.length(1);
    // Each call of a check, as the health model makes once per probe interval.
    await Promise.all(Array.from({ length: 500 }, () => Promise.all(client.checks().map((c) => c.run()))));
    const health = new Health({
      clock: systemClock,
      checkTimeoutMs: 1_000,
      minIntervalMs: 1_000,
      wedgedAfterMs: 5_000,
    });
    for (const check of client.checks()) health.addCheck(check);
    health.observe({ type: 'state', state: 'running' } as LifecycleEvent);
    expect(health.checks('liveness')).to.deep.equal([]);
    const reports = await Promise.all(Array.from({ length: 500 }, () => health.report('readiness')));
    expect(
      reports.every((r) => r.status === 'pass' && r.checks[0]?.name === 'redis:cache'),
      JSON.stringify(reports[0]),
    ).to.equal(true);
    // The same one connection: a new one would have a new id.
    expect(await connectionsNamed(admin, name)).to.deep.equal(before);
  });

  it('counts commands by name and outcome, labelled by client, never by key', async () => {
    const registry = new Registry();
    const client = await start('cache', registry);
    const redis = client.client as RedisClientType;
    await redis.set(`${prefix}m`, 'v');
    await redis.get(`${prefix}m`);
    await redis.get(`${prefix}m`);
    await redis.sendCommand(['NO-SUCH-COMMAND']).catch(() => {});
    const text = await registry.metrics();
    expect(text).to.match(/redis_client_command_duration_seconds_count\{client="cache",command="GET",outcome="ok"\} 2/);
    expect(text).to.match(/redis_client_command_duration_seconds_count\{client="cache",command="SET",outcome="ok"\} 1/);
    expect(text).to.match(/command="NO-SUCH-COMMAND",outcome="error"\} 1/);
    expect(text).to.match(/redis_client_ready\{client="cache"\} 1/);
    expect(text).not.to.include(prefix);
    // The health PING is the client's own: it is not a user's command.
    expect(text).not.to.include('command="PING"');
  });

  it('makes a client span per command with its name and never its key or value', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    try {
      const client = await start('cache', new Registry());
      const redis = client.client as RedisClientType;
      const parent = trace.getTracer('spec').startSpan('request');
      await context.with(trace.setSpan(context.active(), parent), () =>
        redis.set(`${prefix}secret-key`, 'secret-value'),
      );
      parent.end();
      const spans = exporter.getFinishedSpans().filter((s) => s.name === 'SET');
      expect(spans).to.have.length(1);
      const span = spans[0];
      expect(span?.attributes['db.system.name']).to.equal('redis');
      expect(span?.attributes['db.operation.name']).to.equal('SET');
      expect(span?.parentSpanContext?.spanId).to.equal(parent.spanContext().spanId);
      expect(JSON.stringify(exporter.getFinishedSpans().map((s) => [s.name, s.attributes, s.events]))).not.to.match(
        /secret/,
      );
    } finally {
      trace.disable();
      context.disable();
    }
  });

  it('redisClient(name) is a factory provider of the node-redis client, injected with InjectRedis(name)', async () => {
    @injectable()
    class Cache {
      constructor(@InjectRedis('cache') readonly redis: RedisClientType) {}
    }
    const provider = redisClient('cache', { settings: { url: SHARED_URL } });
    const container = new Container();
    const config = new AppConfig({ dionysus: { redis: { cache: { connectTimeoutMs: 3000 } } } });
    const registry = new Registry();
    container
      .bind(provider.provide)
      .toDynamicValue(() => provider.useFactory(config, registry))
      .inSingletonScope();
    container.bind(Cache).toSelf();
    const cache = container.get(Cache);
    const component = provider.component(cache.redis);
    started.push(component);
    expect(component.settings).to.deep.equal(readRedisSettings(config, 'cache', {}, { url: SHARED_URL }));
    await component.start();
    expect(await cache.redis.ping()).to.equal('PONG');
    // The command's registry, injected next to the config, gets the client's metrics.
    expect(await registry.metrics()).to.match(
      /redis_client_command_duration_seconds_count\{client="cache",command="PING",outcome="ok"\} 1/,
    );
  });
});
