// dionysus/redis: loads @redis/client; an app that registers no Redis client never imports this.
export { type Redis, RedisClient, type RedisClientDeps } from './client.js';
export {
  InjectRedis,
  type RedisClientProviderOptions,
  type RedisProvider,
  redisClient,
  redisToken,
} from './provider.js';
export { type RedisMode, type RedisSettings, readRedisSettings, redactUrl, redisDefaults } from './settings.js';
export { type RedisMetrics, redisMetrics } from './telemetry.js';
