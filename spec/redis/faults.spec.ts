import type { RedisClientType } from '@redis/client';
import { expect } from 'chai';
import { RedisClient, redisDefaults } from '../../lib/redis/index.js';
import { PrivateRedis, waitFor } from './servers.js';

/** Faults on a private Redis the spec starts, kills and pauses; the shared one is never stopped. */
describe('RedisClient when Redis fails', function () {
  this.timeout(30_000);
  let server: PrivateRedis;
  let client: RedisClient;
  const health = { intervalMs: 200, timeoutMs: 100, critical: true };

  const readiness = (c: RedisClient) => c.checks().find((check) => check.probe === 'readiness') as { run(): unknown };
  const passes = (c: RedisClient): boolean => {
    try {
      readiness(c).run();
      return true;
    } catch {
      return false;
    }
  };

  beforeEach(async () => {
    server = await PrivateRedis.start();
    client = new RedisClient('cache', {
      ...redisDefaults(),
      url: server.url,
      commandTimeoutMs: 500,
      closeTimeoutMs: 500,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      health,
    });
    await client.start();
  });

  afterEach(async () => {
    server.pause(false);
    await client.stop();
    await server.kill();
  });

  it('readiness fails within interval + timeout when Redis goes away, and passes again when it is back', async () => {
    expect(passes(client)).to.equal(true);
    await server.kill();
    const failedIn = await waitFor(() => !passes(client), health.intervalMs + health.timeoutMs, 'readiness failing');
    expect(failedIn).to.be.below(health.intervalMs + health.timeoutMs);
    expect(() => readiness(client).run()).to.throw(/^redis:cache: /);
    await server.restart();
    await waitFor(() => passes(client), 3_000, 'readiness passing again');
  });

  it('readiness fails when Redis hangs (the PING times out on the open connection)', async () => {
    server.pause(true);
    await waitFor(() => !passes(client), health.intervalMs + health.timeoutMs + 100, 'readiness failing');
    expect(() => readiness(client).run()).to.throw(/PING timed out after 100 ms|timeout/i);
  });

  it('commands during an outage fail at once instead of queueing', async () => {
    const redis = client.client as RedisClientType;
    await server.kill();
    await waitFor(() => !redis.isReady, 1_000, 'the client noticing');
    const began = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => redis.get('k')));
    expect(performance.now() - began).to.be.below(100);
    expect(results.every((r) => r.status === 'rejected')).to.equal(true);
  });

  it('a command to a hung Redis rejects within its timeout', async () => {
    const redis = client.client as RedisClientType;
    server.pause(true);
    const began = performance.now();
    const outcome = await redis.get('k').then(
      () => 'answered',
      (e: Error) => e.constructor.name,
    );
    const took = performance.now() - began;
    expect(outcome).to.match(/Timeout/);
    expect(took).to.be.below(1_500);
  });

  it('stop with Redis down finishes within its bound', async () => {
    const redis = client.client as RedisClientType;
    server.pause(true);
    const pending = redis.get('k').catch(() => {});
    const began = performance.now();
    await client.stop();
    expect(performance.now() - began).to.be.below(800);
    expect(redis.isOpen).to.equal(false);
    await pending;
  });

  it('a non-critical client is reported but never fails the probe', async () => {
    const relaxed = new RedisClient('optional', {
      ...redisDefaults(),
      url: server.url,
      commandTimeoutMs: 500,
      health: { ...health, critical: false },
    });
    await relaxed.start();
    try {
      await server.kill();
      await waitFor(() => !relaxed.healthy, 1_000, 'the client noticing');
      expect(passes(relaxed)).to.equal(true);
    } finally {
      await relaxed.stop();
    }
  });
});
