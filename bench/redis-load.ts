/**
 * One side of bench/redis.bench.ts, in a process of its own (node-redis's tracing channel is
 * process-wide: a subscriber would slow the bare client too): GETs of one key against the
 * machine's Redis with a fixed number in flight, for a number of seconds; prints `{ ops, seconds, cpuUs }`
 * (cpuUs: this process's CPU time over the pass, which the machine's other load does not inflate).
 *
 *   node dist/bench/redis-load.js bare|wrapper SECONDS IN_FLIGHT
 */
import { createClient, type RedisClientType } from '@redis/client';
import { Registry } from 'prom-client';
import { RedisClient, redisDefaults } from '../lib/redis/index.js';

const URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const KEY = `bench:redis:${process.pid}`;

async function main(subject: string, seconds: number, inFlight: number): Promise<void> {
  let redis: RedisClientType;
  let stop: () => Promise<unknown>;
  if (subject === 'wrapper') {
    // Every default on: metrics into a registry, the health PING; no tracer provider (an app's default), so no spans.
    const component = new RedisClient('bench', { ...redisDefaults(), url: URL }, { registry: new Registry() });
    await component.start();
    redis = component.client as RedisClientType;
    stop = () => component.stop();
  } else {
    redis = createClient({ url: URL }) as RedisClientType;
    await redis.connect();
    stop = () => redis.close();
  }
  await redis.set(KEY, 'value');
  const until = performance.now() + seconds * 1000;
  let ops = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      await redis.get(KEY);
      ops++;
    }
  };
  const began = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const used = process.cpuUsage(cpu);
  const took = (performance.now() - began) / 1000;
  await redis.del(KEY);
  await stop();
  process.stdout.write(`${JSON.stringify({ ops, seconds: took, cpuUs: used.user + used.system })}\n`);
}

const [subject = 'bare', seconds = '3', inFlight = '16'] = process.argv.slice(2);
main(subject, Number(seconds), Number(inFlight)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
