// dionysus/redis: loads nothing of @redis/client, prom-client or OpenTelemetry until a client is made.
export { type Redis, RedisClient, type RedisClientDeps, redisMetrics } from './client.js';
export {
  InjectRedis,
  type RedisClientProviderOptions,
  type RedisProvider,
  redisClient,
  redisToken,
} from './provider.js';
export { type RedisMode, type RedisSettings, readRedisSettings, redactUrl, redisDefaults } from './settings.js';
export type { RedisMetrics } from './telemetry.js';
