import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { expect } from 'chai';
import { AppConfig } from 'dionysus';
import { CpuPool, type CpuPoolOptions, cpuPool, PoolDroppedError, PoolFullError, poolToken } from 'dionysus/pool';
import { memoryLogger, metricValue, outcome, Registry, settle } from './helpers.js';

const WORKER = join(__dirname, '..', 'fixtures', 'pool', 'cpu-worker.js');

describe('dionysus/pool CpuPool (piscina worker threads)', function () {
  this.timeout(30_000);
  let pools: CpuPool[] = [];
  const make = (options: Partial<CpuPoolOptions> = {}): CpuPool => {
    const pool = new CpuPool('cpu', { filename: WORKER, ...options });
    pools.push(pool);
    return pool;
  };
  afterEach(async () => {
    for (const pool of pools) await pool.stop(AbortSignal.timeout(5000));
    pools = [];
  });

  it('runs the worker module’s task in another thread and resolves with its result', async () => {
    const pool = make({ size: 2 });
    const result = (await pool.run(7)) as { square: number; threadId: number };
    expect(result.square).to.equal(49);
    expect(result.threadId).to.not.equal(threadId);
  });

  it('bounds the queue: non-blocking submissions past size + maxQueue fail with PoolFullError', async () => {
    const pool = make({ size: 1, maxQueue: 1, nonBlocking: true });
    const first = pool.run(300, { name: 'spin' });
    const second = pool.run(1, { name: 'spin' });
    const third = await pool.run(1, { name: 'spin' }).catch((error: unknown) => error);
    expect(third).to.be.instanceOf(PoolFullError);
    expect(await Promise.all([first, second])).to.deep.equal([300, 1]);
  });

  it('a task that throws fails its submitter, reaches onError, and the pool keeps running', async () => {
    const seen: string[] = [];
    const pool = make({ size: 1, onError: (error) => seen.push((error as Error).message) });
    const error = await pool.run('bad input', { name: 'fail' }).catch((e: unknown) => e);
    expect((error as Error).message).to.equal('bad input');
    expect(seen).to.deep.equal(['bad input']);
    expect(((await pool.run(3)) as { square: number }).square).to.equal(9);
  });

  it('drain lets queued work finish; past its deadline it terminates running tasks and counts them dropped', async () => {
    const registry = new Registry();
    const logger = memoryLogger();
    const pool = make({ size: 1, maxQueue: 4, registry, logger });
    const quick = [pool.run(2), pool.run(3)];
    expect(await pool.drain(AbortSignal.timeout(10_000))).to.deep.equal({ finished: 2, dropped: 0 });
    expect(((await quick[1]) as { square: number }).square).to.equal(9);

    const stuck = make({ size: 1, maxQueue: 4, registry, logger, drainTimeoutMs: 200 });
    const endless = outcome(stuck.run(60_000, { name: 'spin' }));
    const queued = outcome(stuck.run(1, { name: 'spin' }));
    await settle();
    const started = Date.now();
    expect(await stuck.drain()).to.deep.equal({ finished: 0, dropped: 2 });
    expect(Date.now() - started).to.be.below(5000);
    await settle();
    expect(endless.error).to.be.instanceOf(PoolDroppedError);
    expect(queued.error).to.be.instanceOf(PoolDroppedError);
    expect(logger.lines.map((l) => l.message)).to.deep.equal([
      "pool 'cpu' dropped 2 tasks at the drain deadline (1 running, 1 waiting); their AbortSignals fired",
    ]);
    await stuck.stop(AbortSignal.timeout(5000));
    expect(await metricValue(registry, 'dionysus_pool_tasks_total', { pool_name: 'cpu', outcome: 'dropped' })).to.equal(
      2,
    );
    expect(await metricValue(registry, 'dionysus_pool_tasks_total', { pool_name: 'cpu', outcome: 'ok' })).to.equal(2);
    expect(await metricValue(registry, 'dionysus_pool_task_wait_time_seconds', { pool_name: 'cpu' })).to.equal(2);
  });

  it('cpuPool(name) is a useFactory provider configured from dionysus.pool.<name>', async () => {
    const provider = cpuPool('cpu', { filename: WORKER });
    expect(provider.provide).to.equal(poolToken('cpu'));
    const pool = provider.useFactory(
      new AppConfig({ dionysus: { pool: { cpu: { size: 3 } } } }),
      memoryLogger() as never,
      new Registry(),
    );
    pools.push(pool);
    expect([pool.capacity, pool.running, pool.waiting]).to.deep.equal([3, 0, 0]);
  });
});
