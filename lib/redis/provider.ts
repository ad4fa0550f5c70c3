import type { Registry } from 'prom-client';
import { AppConfig } from '../config/app-config.js';
import { injectNamed, namedToken } from '../integrations/tokens.js';
import { REGISTRY } from '../telemetry/tokens.js';
import { type Redis, RedisClient, type RedisClientDeps } from './client.js';
import { type RedisSettings, readRedisSettings } from './settings.js';

/** The container token of the Redis client `name`: what `InjectRedis(name)` injects. */
export function redisToken(name: string): symbol {
  return namedToken('redis', name);
}

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

export interface RedisClientProviderOptions extends RedisClientDeps {
  /** Settings over `dionysus.redis.<name>` and `REDIS_URL`, checked by the same rules. */
  readonly settings?: DeepPartial<RedisSettings>;
  /** The environment `REDIS_URL` is read from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** A factory provider of one Redis client, and the component that owns it. */
export interface RedisProvider {
  readonly provide: symbol;
  readonly inject: readonly [typeof AppConfig, typeof REGISTRY];
  /** The command's registry gets the client's metrics, unless `options.registry` names another. */
  readonly useFactory: (config: AppConfig, registry?: Registry) => Redis;
  /**
   * The lifecycle component owning a client this provider made: the lifecycle calls its start,
   * drain and stop, and registers its `redis:<name>` checks, when the running command builds it.
   */
  readonly component: (client: Redis) => RedisClient;
}

const owners = new WeakMap<object, RedisClient>();

/**
 * Registers the Redis client `name`, configured by `dionysus.redis.<name>`.
 * @example
 * @Main({ name: 'app', commands, providers: [redisClient('cache')] })
 */
export function redisClient(name = 'main', options: RedisClientProviderOptions = {}): RedisProvider {
  return {
    provide: redisToken(name),
    // Tokens only: declaring a client loads neither prom-client nor the driver.
    inject: [AppConfig, REGISTRY],
    useFactory: (config, registry) => {
      const settings = readRedisSettings(config, name, options.env ?? process.env, options.settings);
      const component = new RedisClient(name, settings, { ...options, registry: options.registry ?? registry });
      owners.set(component.client, component);
      return component.client;
    },
    component: (client) => {
      const component = owners.get(client);
      if (!component) throw new Error(`redisClient('${name}'): this client was not made by its provider`);
      return component;
    },
  };
}

/**
 * Injects the Redis client `name` (the node-redis client).
 * @example
 * constructor(@InjectRedis('cache') private readonly redis: RedisClientType) {}
 */
export function InjectRedis(name = 'main'): ParameterDecorator & PropertyDecorator {
  return injectNamed('redis', name);
}
