import { expect } from 'chai';
import { AppConfig } from 'dionysus';
import { POOL_DEFAULTS, poolSettings, poolToken, TaskPool, taskPool } from 'dionysus/pool';
import { Container } from 'inversify';
import { Registry } from 'prom-client';
import { validateSection } from '../../lib/config/validate.js';
import { POOL_RULES } from '../../lib/pool/settings.js';
import { fixture, killChildren, node } from '../integration/child.js';
import { withoutShellConfig } from '../telemetry/log-lines.js';
import { memoryLogger } from './helpers.js';

describe('dionysus.pool.<name> configuration', () => {
  it('has finite defaults for every key', () => {
    expect(poolSettings('jobs')).to.deep.equal(POOL_DEFAULTS);
    expect(Object.keys(POOL_DEFAULTS).sort()).to.deep.equal(Object.keys(POOL_RULES.rules).sort());
    expect(Number.isFinite(POOL_DEFAULTS.submitTimeoutMs) && Number.isFinite(POOL_DEFAULTS.drainTimeoutMs)).to.equal(
      true,
    );
  });

  it('takes the options given in code, and configuration over them', () => {
    const config = new AppConfig({ dionysus: { pool: { jobs: { size: 8, nonBlocking: true } } } });
    expect(poolSettings('jobs', config, { size: 2, maxQueue: 5 })).to.deep.equal({
      ...POOL_DEFAULTS,
      size: 8,
      maxQueue: 5,
      nonBlocking: true,
    });
    expect(poolSettings('mail', config, { size: 2 }).size).to.equal(2);
  });

  it('names the key, the bad value and the file of every problem at once', () => {
    const config = new AppConfig(
      { dionysus: { pool: { jobs: { size: 0, sise: 4, drainTimeoutMs: 'soon' } } } },
      (key) => (key.startsWith('dionysus.pool.jobs') ? 'config/production.json' : undefined),
    );
    expect(() => poolSettings('jobs', config)).to.throw(
      [
        'invalid configuration:',
        '  - dionysus.pool.jobs.size: 0 is not a whole number above 0 (from config/production.json)',
        '  - dionysus.pool.jobs.sise: 4 is not a framework key (known here: size, maxQueue, nonBlocking, submitTimeoutMs, drainTimeoutMs) (from config/production.json)',
        '  - dionysus.pool.jobs.drainTimeoutMs: "soon" is not a positive number of milliseconds (from config/production.json)',
      ].join('\n'),
    );
  });

  it('refuses bad options in code, naming the pool', () => {
    expect(() => new TaskPool('jobs', { maxQueue: -1 })).to.throw(
      "dionysus.pool.jobs.maxQueue: -1 is not a whole number (0 or more) (from the options of pool 'jobs')",
    );
  });

  it('is checked with every framework key when configuration loads: unknown keys and bad values are errors', () => {
    const problems = validateSection({
      pool: { jobs: { size: 4, submitTimeoutMs: Number.POSITIVE_INFINITY }, mail: 3, cpu: { threads: 2 } },
    });
    expect(problems.map((p) => `${p.key}: ${p.problem}`)).to.deep.equal([
      'pool.jobs.submitTimeoutMs: is not a positive number of milliseconds',
      'pool.mail: is not an object',
      'pool.cpu.threads: is not a framework key (known here: size, maxQueue, nonBlocking, submitTimeoutMs, drainTimeoutMs)',
    ]);
    expect(validateSection({ pool: { jobs: { size: 4, maxQueue: 0, nonBlocking: true } } })).to.deep.equal([]);
    expect(validateSection({ pools: {} })[0]?.problem).to.include('pool');
  });
});

describe('dionysus.pool.<name> when an app starts', () => {
  const APP = fixture('config-app');
  afterEach(killChildren);
  const start = (nodeConfig: unknown) =>
    node(APP, ['plain'], { env: { ...withoutShellConfig(), NODE_CONFIG: JSON.stringify(nodeConfig) } }).waitForExit();

  it('a bad pool key fails the start before any hook, naming the key, the value and its source', async () => {
    const exit = await start({ dionysus: { pool: { jobs: { size: 4, sise: 8 } } } });
    expect(exit.code).to.equal(1);
    expect(exit.lines, 'no PreRun hook ran').to.deep.equal([]);
    expect(exit.stderr).to.include(
      '  - dionysus.pool.jobs.sise: 8 is not a framework key (known here: size, maxQueue, nonBlocking, submitTimeoutMs, drainTimeoutMs) (from $NODE_CONFIG)',
    );
  });

  it('valid pool settings start like any framework key', async () => {
    const exit = await start({ dionysus: { pool: { jobs: { size: 4, nonBlocking: true } } } });
    expect(exit.code, exit.stderr).to.equal(0);
  });
});

describe('taskPool(name): the provider', () => {
  it('is a useFactory provider under the pool’s token, building the pool from configuration', async () => {
    const provider = taskPool('jobs', { size: 2 });
    expect(provider.provide).to.equal(poolToken('jobs'));
    const registry = new Registry();
    const pool = provider.useFactory(
      new AppConfig({ dionysus: { pool: { jobs: { maxQueue: 7 } } } }),
      memoryLogger() as never,
      registry,
    );
    expect(pool).to.be.instanceOf(TaskPool);
    expect([pool.name, pool.capacity, pool.maxQueue]).to.deep.equal(['jobs', 2, 7]);
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).to.include('dionysus_pool_capacity');
    await pool.stop();
  });

  it('InjectPool(name) injects it into a constructor parameter', async () => {
    const { InjectPool } = await import('dionysus/pool');
    const { injectable } = await import('inversify');
    @injectable()
    class Reports {
      constructor(@InjectPool('jobs') readonly jobs: TaskPool) {}
    }
    const container = new Container();
    const pool = new TaskPool('jobs');
    container.bind(poolToken('jobs')).toConstantValue(pool);
    container.bind(Reports).toSelf();
    expect(container.get(Reports).jobs).to.equal(pool);
    await pool.stop();
  });
});
