import { expect } from 'chai';
import { AppConfig } from '../../lib/config/app-config.js';
import { validateSection } from '../../lib/config/validate.js';
import { readRedisSettings, redisDefaults } from '../../lib/redis/settings.js';

const configOf = (redis: unknown): AppConfig =>
  new AppConfig({ dionysus: { redis } }, (key) =>
    key.startsWith('dionysus.redis') ? 'config/default.json' : undefined,
  );

const problem = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
};

describe('redis settings', () => {
  it('defaults every timeout to a finite value and the offline queue to off', () => {
    const settings = readRedisSettings(configOf(undefined), 'cache', {});
    expect(settings).to.deep.equal(redisDefaults());
    expect(settings.offlineQueue).to.equal(false);
    for (const ms of [settings.connectTimeoutMs, settings.commandTimeoutMs, settings.closeTimeoutMs]) {
      expect(ms).to.be.a('number').and.to.be.above(0).and.to.be.below(60_000);
    }
  });

  it('reads dionysus.redis.<name> over the defaults', () => {
    const settings = readRedisSettings(
      configOf({ cache: { url: 'rediss://cache:6380/2', health: { critical: false } } }),
      'cache',
      {},
    );
    expect(settings.url).to.equal('rediss://cache:6380/2');
    expect(settings.health).to.deep.equal({ ...redisDefaults().health, critical: false });
  });

  it('names an unknown key, a bad value and the file it came from', () => {
    const message = problem(() =>
      readRedisSettings(
        configOf({ cache: { url: 'http://x', comandTimeoutMs: 5, health: { timeoutMs: -1 } } }),
        'cache',
        {},
      ),
    );
    expect(message).to.include('dionysus.redis.cache.url: "http://x" has scheme http: instead of redis: or rediss:');
    expect(message).to.include('dionysus.redis.cache.comandTimeoutMs: 5 is not a redis client key');
    expect(message).to.include('dionysus.redis.cache.health.timeoutMs: -1 is not a positive number of milliseconds');
    expect(message).to.include('(from config/default.json)');
  });

  it('is checked with the framework keys when the configuration loads', () => {
    const problems = validateSection({ redis: { main: { commandTimeoutMs: 'soon', offlineQueue: 1 } } });
    expect(problems.map((p) => `${p.key} ${p.problem}`)).to.deep.equal([
      'redis.main.commandTimeoutMs is not a positive number of milliseconds',
      'redis.main.offlineQueue is not true or false',
    ]);
    expect(validateSection({ rediss: {} })[0]?.problem).to.include('redis');
  });

  it('REDIS_URL overrides the main client url, and only it', () => {
    const config = configOf({ main: { url: 'redis://file:6379' }, cache: { url: 'redis://cache:6379' } });
    const env = { REDIS_URL: 'redis://env:6390/1' };
    expect(readRedisSettings(config, 'main', env).url).to.equal('redis://env:6390/1');
    expect(readRedisSettings(config, 'cache', env).url).to.equal('redis://cache:6379');
  });

  it('a bad REDIS_URL is named without its password', () => {
    const message = problem(() => readRedisSettings(configOf(undefined), 'main', { REDIS_URL: 'http://u:s3cret@h' }));
    expect(message).to.include('REDIS_URL');
    expect(message).to.include('(from the environment)');
    expect(message).not.to.include('s3cret');
  });

  it('refuses a health interval that lets an idle connection reach the command timeout', () => {
    const message = problem(() =>
      readRedisSettings(configOf({ main: { commandTimeoutMs: 1000, health: { intervalMs: 1000 } } }), 'main', {}),
    );
    expect(message).to.include('dionysus.redis.main.health.intervalMs (1000 ms) is not shorter than commandTimeoutMs');
  });

  it('sentinel mode needs its master name and sentinels', () => {
    const message = problem(() => readRedisSettings(configOf({ main: { mode: 'sentinel' } }), 'main', {}));
    expect(message).to.include('dionysus.redis.main.sentinelName is empty');
    expect(message).to.include('dionysus.redis.main.nodes is empty');
  });
});
