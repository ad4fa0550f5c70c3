import { Command, ReadinessCheck } from 'dionysus';
import { taskPool } from 'dionysus/pool';
import { sqlDatabase } from 'dionysus/sql';
import { Dependency } from '../dependency.js';
import { migrations } from '../migrations/index.js';
import { cacheProviders } from '../todos/cache.js';
import type { DB } from '../todos/store.js';

/**
 * `app http`: the HTTP server (port from HTTP_PORT). Its todos live in the
 * `main` database: a SQLite file (data/main.sqlite under the working
 * directory) unless DATABASE_URL names PostgreSQL; its migrations apply at
 * start, so a fresh checkout serves at once (configuration can say
 * `dionysus.sql.main.migrations.onStartup: check`, as a deployment whose init
 * container migrates should). The database, the cache's Redis (with
 * REDIS_URL) and the `primes` pool are this command's: the other commands
 * open none of them. Its controllers (and zod, which their schemas use) load
 * when it runs: `--help`, the other commands and the probes never import
 * them. `require`, as this is a CommonJS build; an ESM app writes
 * `() => import('../controllers/index.js')`.
 */
@Command('http', {
  description: 'Serve the HTTP API',
  controllers: () => require('../controllers/index.js').controllers,
  providers: [
    sqlDatabase<DB>('main', { migrations, settings: { migrations: { onStartup: 'apply' } } }),
    ...cacheProviders(),
    // Two prime counts at once at most, 20 waiting; past that a request gets 503 at once.
    taskPool('primes', { size: 2, maxQueue: 20, nonBlocking: true }),
  ],
})
export class HttpCommand {
  constructor(private readonly dependency: Dependency) {}

  @ReadinessCheck('dependency')
  async dependencyReachable(): Promise<void> {
    await this.dependency.ping();
  }
}
