import type { RedisClientType } from '@redis/client';
import { Injectable, Logger, type Provider } from 'dionysus';
import { InjectRedis, redisClient } from 'dionysus/redis';
import type { Todo } from './store.js';

/** Where `GET /todos/:id` keeps what it read: Redis when REDIS_URL is set, nowhere otherwise. */
export abstract class TodoCache {
  abstract get(id: number): Promise<Todo | undefined>;
  abstract set(todo: Todo): Promise<void>;
  abstract forget(id: number): Promise<void>;
}

/** How long a cached todo lives: bounds how stale a copy can get if a PATCH fails to forget it. */
export const CACHE_TTL_SECONDS = 60;

/** The Redis key of a cached todo. */
export const cacheKey = (id: number): string => `todos:${id}`;

/**
 * Todos cached in the `cache` Redis client. The cache is an optimisation: a
 * Redis error is logged and the database answers (readiness, `redis:cache`,
 * takes the pod out of the Service meanwhile).
 */
@Injectable()
export class RedisTodoCache extends TodoCache {
  constructor(
    @InjectRedis('cache') private readonly redis: RedisClientType,
    private readonly log: Logger,
  ) {
    super();
  }

  async get(id: number): Promise<Todo | undefined> {
    try {
      const text = await this.redis.get(cacheKey(id));
      return text ? (JSON.parse(text) as Todo) : undefined;
    } catch (error) {
      this.log.warn({ err: error, id }, 'todo cache read failed; reading the database');
      return undefined;
    }
  }

  async set(todo: Todo): Promise<void> {
    try {
      await this.redis.set(cacheKey(todo.id), JSON.stringify(todo), { EX: CACHE_TTL_SECONDS });
    } catch (error) {
      this.log.warn({ err: error, id: todo.id }, 'todo cache write failed');
    }
  }

  async forget(id: number): Promise<void> {
    try {
      await this.redis.del(cacheKey(id));
    } catch (error) {
      this.log.error(
        { err: error, id },
        `todo cache invalidation failed; the cached copy expires within ${CACHE_TTL_SECONDS} s`,
      );
    }
  }
}

/** No cache: every read goes to the database. */
export class NoTodoCache extends TodoCache {
  async get(): Promise<undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async forget(): Promise<void> {}
}

/**
 * The cache's providers. With `REDIS_URL` set, the `cache` Redis client on
 * that URL (its `redis:cache` check joins startup and readiness) and the Redis
 * cache; without it, no client at all, so the app runs with no Redis server.
 * The framework maps REDIS_URL to the client named `main` only; this app's
 * client is `cache`, given the URL in code (over `dionysus.redis.cache`).
 */
export function cacheProviders(env: NodeJS.ProcessEnv = process.env): Provider[] {
  const url = env.REDIS_URL;
  if (!url) return [{ provide: TodoCache, useClass: NoTodoCache }];
  return [redisClient('cache', { settings: { url } }), { provide: TodoCache, useClass: RedisTodoCache }];
}
