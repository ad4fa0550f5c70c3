import { context, type Span, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { expect } from 'chai';
import {
  PoolClosedError,
  PoolDroppedError,
  PoolFullError,
  PoolTimeoutError,
  TaskPool,
  type TaskPoolOptions,
} from 'dionysus/pool';
import { FakeClock } from 'dionysus/testing';
import { type Deferred, deferred, memoryLogger, metricValue, outcome, Registry, settle } from './helpers.js';

/** A pool whose tasks each wait for the spec: `hold()` submits one and returns its handle. */
function busyPool(options: TaskPoolOptions) {
  const pool = new TaskPool('jobs', options);
  const started: number[] = [];
  const signals: AbortSignal[] = [];
  const hold = (id: number, submit = {}): { done: Deferred<number>; result: ReturnType<typeof outcome<number>> } => {
    const done = deferred<number>();
    const result = outcome(
      pool.submit((signal) => {
        started.push(id);
        signals.push(signal);
        return done.promise;
      }, submit),
    );
    return { done, result };
  };
  return { pool, started, signals, hold };
}

describe('dionysus/pool TaskPool', () => {
  let pools: TaskPool[] = [];
  const track = <T extends { pool: TaskPool }>(made: T): T => {
    pools.push(made.pool);
    return made;
  };
  afterEach(async () => {
    for (const pool of pools) await pool.stop();
    pools = [];
  });

  describe('bounded size and queue', () => {
    it('runs at most `size` tasks at once and queues the rest, reporting running, waiting and capacity', async () => {
      const { pool, started, hold } = track(busyPool({ size: 2, maxQueue: 10 }));
      const tasks = [1, 2, 3, 4, 5].map((id) => hold(id));
      await settle();
      expect(started).to.deep.equal([1, 2]);
      expect([pool.running, pool.waiting, pool.capacity]).to.deep.equal([2, 3, 2]);
      tasks[0]!.done.resolve(10);
      await settle();
      expect(tasks[0]!.result).to.include({ state: 'resolved', value: 10 });
      expect(started).to.deep.equal([1, 2, 3]);
      expect([pool.running, pool.waiting]).to.deep.equal([2, 2]);
    });

    it('non-blocking: a submission past the queue bound fails at once with PoolFullError naming the settings', async () => {
      const { pool, hold } = track(busyPool({ size: 1, maxQueue: 1, nonBlocking: true }));
      hold(1);
      hold(2);
      const third = hold(3);
      await settle();
      expect(third.result.state).to.equal('rejected');
      const error = third.result.error as PoolFullError;
      expect(error).to.be.instanceOf(PoolFullError);
      expect(error.pool).to.equal('jobs');
      expect(error.message).to.include("pool 'jobs' is full (1 running, 1 waiting)");
      expect(error.message).to.include('dionysus.pool.jobs.maxQueue');
      expect(pool.waiting).to.equal(1);
    });

    it('maxQueue 0 accepts a task only when a worker is free', async () => {
      const { hold } = track(busyPool({ size: 1, maxQueue: 0, nonBlocking: true }));
      const first = hold(1);
      const second = hold(2);
      await settle();
      expect(second.result.error).to.be.instanceOf(PoolFullError);
      first.done.resolve(1);
      await settle();
      const third = hold(3);
      await settle();
      expect(third.result.state).to.equal('pending');
    });
  });

  describe('blocking submit', () => {
    it('waits for room and enters first come, first served, as tasks finish', async () => {
      const { pool, started, hold } = track(busyPool({ size: 1, maxQueue: 1 }));
      const first = hold(1);
      hold(2);
      const third = hold(3);
      const fourth = hold(4);
      await settle();
      expect([pool.running, pool.waiting, pool.blocked]).to.deep.equal([1, 1, 2]);
      expect(third.result.state).to.equal('pending');
      first.done.resolve(1);
      await settle();
      expect(started).to.deep.equal([1, 2]);
      expect([pool.running, pool.waiting, pool.blocked]).to.deep.equal([1, 1, 1]);
      expect(fourth.result.state).to.equal('pending');
    });

    it('fails with PoolTimeoutError after submitTimeoutMs without room, and counts a timeout', async () => {
      const clock = new FakeClock();
      const registry = new Registry();
      const { pool, hold } = track(busyPool({ size: 1, maxQueue: 0, submitTimeoutMs: 250, clock, registry }));
      hold(1);
      const late = hold(2);
      await clock.advance(249);
      expect(late.result.state).to.equal('pending');
      await clock.advance(1);
      const error = late.result.error as PoolTimeoutError;
      expect(error).to.be.instanceOf(PoolTimeoutError);
      expect(error.message).to.include("pool 'jobs' had no room for the task within 250 ms");
      expect(error.message).to.include('dionysus.pool.jobs.submitTimeoutMs');
      expect(pool.blocked).to.equal(0);
      expect(
        await metricValue(registry, 'dionysus_pool_tasks_total', { pool_name: 'jobs', outcome: 'timeout' }),
      ).to.equal(1);
    });

    it('gives up when its AbortSignal fires while it waits', async () => {
      const { pool, hold } = track(busyPool({ size: 1, maxQueue: 0 }));
      hold(1);
      const cancel = new AbortController();
      const waiting = hold(2, { signal: cancel.signal });
      await settle();
      expect(pool.blocked).to.equal(1);
      cancel.abort(new Error('caller gave up'));
      await settle();
      expect((waiting.result.error as Error).message).to.equal('caller gave up');
      expect(pool.blocked).to.equal(0);
    });
  });

  describe("the submitter's signal", () => {
    it('takes a queued task out of the queue: it never starts and its submitter gets the reason', async () => {
      const { pool, started, hold } = track(busyPool({ size: 1, maxQueue: 5 }));
      const first = hold(1);
      const cancel = new AbortController();
      const queued = hold(2, { signal: cancel.signal });
      await settle();
      cancel.abort(new Error('not needed any more'));
      await settle();
      expect((queued.result.error as Error).message).to.equal('not needed any more');
      expect(pool.waiting).to.equal(0);
      first.done.resolve(1);
      await settle();
      expect(started).to.deep.equal([1]);
    });

    it('leaves a long queue first come, first served for the others, however it grew and moved', async () => {
      const { pool, started, hold } = track(busyPool({ size: 1, maxQueue: 100 }));
      const cancels = new Map<number, AbortController>();
      const tasks = new Map<number, ReturnType<typeof hold>>();
      const submit = (id: number): void => {
        if (id % 3 !== 0) return void tasks.set(id, hold(id));
        const cancel = new AbortController();
        cancels.set(id, cancel);
        tasks.set(id, hold(id, { signal: cancel.signal }));
      };
      for (let id = 1; id <= 10; id++) submit(id);
      // The first tasks end one by one, then many more arrive while the rest wait.
      for (let id = 1; id <= 8; id++) {
        tasks.get(id)!.done.resolve(id);
        await settle();
      }
      for (let id = 11; id <= 40; id++) submit(id);
      await settle();
      const cancelled = [...cancels.keys()].filter((id) => id > 9);
      for (const id of cancelled) cancels.get(id)!.abort(new Error(`cancelled ${id}`));
      await settle();
      expect([pool.running, pool.waiting]).to.deep.equal([1, 31 - cancelled.length]);
      for (let id = 9; id <= 40; id++) {
        tasks.get(id)!.done.resolve(id);
        await settle();
      }
      const ids = Array.from({ length: 40 }, (_, i) => i + 1);
      expect(started).to.deep.equal(ids.filter((id) => !cancelled.includes(id)));
      expect(cancelled.map((id) => (tasks.get(id)!.result.error as Error).message)).to.deep.equal(
        cancelled.map((id) => `cancelled ${id}`),
      );
      expect(tasks.get(40)!.result).to.include({ state: 'resolved', value: 40 });
    });

    it('keeps submission order through a burst of thousands of waiting tasks, and after the queue gave its room back', async () => {
      const pool = new TaskPool('burst', { size: 1, maxQueue: 10_000 });
      const order: number[] = [];
      const run = (id: number) => pool.submit(async () => void order.push(id));
      // 3,000 waiting tasks take a ring of 4,096 slots, which goes back to a small one once empty.
      await Promise.all(Array.from({ length: 3000 }, (_, id) => run(id)));
      expect(pool.waiting).to.equal(0);
      await Promise.all(Array.from({ length: 40 }, (_, i) => run(3000 + i)));
      expect(order).to.deep.equal(Array.from({ length: 3040 }, (_, id) => id));
      await pool.stop();
    });

    it('fires a running task’s signal, and the task holds its worker until it ends', async () => {
      const { pool, signals, started, hold } = track(busyPool({ size: 1, maxQueue: 5 }));
      const cancel = new AbortController();
      const running = hold(1, { signal: cancel.signal });
      hold(2);
      await settle();
      cancel.abort(new Error('client went away'));
      await settle();
      expect(signals[0]?.aborted).to.equal(true);
      expect(running.result.state).to.equal('pending');
      expect([pool.running, pool.waiting, started.length]).to.deep.equal([1, 1, 1]);
      running.done.reject(signals[0]?.reason);
      await settle();
      expect((running.result.error as Error).message).to.equal('client went away');
      expect(started).to.deep.equal([1, 2]);
    });
  });

  describe('tune', () => {
    it('tuned up while busy starts waiting tasks at once', async () => {
      const { pool, started, hold } = track(busyPool({ size: 1, maxQueue: 10 }));
      for (const id of [1, 2, 3, 4]) hold(id);
      await settle();
      expect(started).to.deep.equal([1]);
      pool.tune(3);
      await settle();
      expect(started).to.deep.equal([1, 2, 3]);
      expect([pool.capacity, pool.running, pool.waiting]).to.deep.equal([3, 3, 1]);
    });

    it('tuned down while busy lets running tasks finish and starts new ones only below the new size', async () => {
      const { pool, started, hold } = track(busyPool({ size: 3, maxQueue: 10 }));
      const tasks = [1, 2, 3, 4, 5].map((id) => hold(id));
      await settle();
      pool.tune(1);
      tasks[0]!.done.resolve(1);
      await settle();
      expect(started).to.deep.equal([1, 2, 3]);
      expect([pool.capacity, pool.running, pool.waiting]).to.deep.equal([1, 2, 2]);
      tasks[1]!.done.resolve(2);
      tasks[2]!.done.resolve(3);
      await settle();
      expect(started).to.deep.equal([1, 2, 3, 4]);
      expect(pool.running).to.equal(1);
    });

    it('refuses a size that is not a whole number above 0, naming the pool', () => {
      const { pool } = track(busyPool({}));
      expect(() => pool.tune(0)).to.throw("TaskPool.tune of pool 'jobs': 0 is not a whole number above 0");
    });
  });

  describe('a task that throws or rejects', () => {
    it('fails its submitter, reaches onError and leaves the pool running', async () => {
      const seen: { error: unknown; pool: string }[] = [];
      const pool = new TaskPool('jobs', { size: 1, onError: (error, info) => seen.push({ error, pool: info.pool }) });
      pools.push(pool);
      const thrown = outcome(
        pool.submit(() => {
          throw new Error('sync boom');
        }),
      );
      const rejected = outcome(pool.submit(async () => Promise.reject(new Error('async boom'))));
      const after = outcome(pool.submit(() => 42));
      await settle();
      expect((thrown.error as Error).message).to.equal('sync boom');
      expect((rejected.error as Error).message).to.equal('async boom');
      expect(after).to.include({ state: 'resolved', value: 42 });
      expect(seen.map((s) => [(s.error as Error).message, s.pool])).to.deep.equal([
        ['sync boom', 'jobs'],
        ['async boom', 'jobs'],
      ]);
    });

    it('without onError, is logged on the logger; post() hands it to the logger alone', async () => {
      const logger = memoryLogger();
      const pool = new TaskPool('jobs', { size: 1, logger });
      pools.push(pool);
      await pool.post(() => {
        throw new Error('fire and forget failed');
      });
      await settle();
      expect(logger.lines.map((l) => [l.level, l.message])).to.deep.equal([
        ['error', "task of pool 'jobs' failed: fire and forget failed"],
      ]);
      expect(await pool.submit(() => 'still alive')).to.equal('still alive');
    });

    it('a throwing onError does not take the pool down', async () => {
      const logger = memoryLogger();
      const pool = new TaskPool('jobs', {
        logger,
        onError: () => {
          throw new Error('handler broke');
        },
      });
      pools.push(pool);
      await pool.submit(() => Promise.reject(new Error('task broke'))).catch(() => {});
      expect(logger.lines.map((l) => l.message)).to.deep.equal(["onError of pool 'jobs' threw: handler broke"]);
      expect(await pool.submit(() => 1)).to.equal(1);
    });
  });

  describe('drain', () => {
    it('rejects new submissions and lets queued and running work finish', async () => {
      const { pool, started, hold } = track(busyPool({ size: 1, maxQueue: 5 }));
      const tasks = [1, 2, 3].map((id) => hold(id));
      await settle();
      const drained = outcome(pool.drain(AbortSignal.timeout(10_000)));
      const late = hold(4);
      await settle();
      expect(late.result.error).to.be.instanceOf(PoolClosedError);
      expect((late.result.error as Error).message).to.equal("pool 'jobs' is draining and takes no new tasks");
      for (const task of tasks) {
        task.done.resolve(0);
        await settle();
      }
      expect(started).to.deep.equal([1, 2, 3]);
      expect(tasks.map((t) => t.result.state)).to.deep.equal(['resolved', 'resolved', 'resolved']);
      expect(drained).to.deep.include({ state: 'resolved', value: { finished: 3, dropped: 0 } });
      expect(pool.state).to.equal('drained');
    });

    it('fails submissions that were waiting for room with PoolClosedError', async () => {
      const { pool, hold } = track(busyPool({ size: 1, maxQueue: 0 }));
      const running = hold(1);
      const blocked = hold(2);
      await settle();
      const drained = pool.drain();
      await settle();
      expect(blocked.result.error).to.be.instanceOf(PoolClosedError);
      running.done.resolve(1);
      expect(await drained).to.deep.equal({ finished: 1, dropped: 0 });
    });

    it('past drainTimeoutMs fires the running tasks’ signals, drops queued and running tasks, counts and logs them', async () => {
      const clock = new FakeClock();
      const registry = new Registry();
      const logger = memoryLogger();
      const { pool, signals, started, hold } = track(
        busyPool({ size: 2, maxQueue: 5, drainTimeoutMs: 1000, clock, registry, logger }),
      );
      const tasks = [1, 2, 3].map((id) => hold(id));
      await settle();
      tasks[0]!.done.resolve(1);
      await settle();
      const drained = outcome(pool.drain());
      await clock.advance(999);
      expect(drained.state).to.equal('pending');
      expect(signals.some((s) => s.aborted)).to.equal(false);
      await clock.advance(1);
      expect(drained).to.deep.include({ state: 'resolved', value: { finished: 0, dropped: 2 } });
      expect(started).to.deep.equal([1, 2, 3]);
      expect(signals.map((s) => s.aborted)).to.deep.equal([true, true, true]);
      expect(tasks[1]!.result.error).to.be.instanceOf(PoolDroppedError);
      expect((tasks[1]!.result.error as Error).message).to.include("pool 'jobs' dropped the task while it ran");
      expect(logger.lines.map((l) => [l.level, l.message])).to.deep.equal([
        ['warn', "pool 'jobs' dropped 2 tasks at the drain deadline (2 running, 0 waiting); their AbortSignals fired"],
      ]);
      expect(
        await metricValue(registry, 'dionysus_pool_tasks_total', { pool_name: 'jobs', outcome: 'dropped' }),
      ).to.equal(2);
    });

    it('ends at its deadline signal, dropping tasks that never started', async () => {
      const { pool, started, hold } = track(busyPool({ size: 1, maxQueue: 5 }));
      hold(1);
      const queued = hold(2);
      await settle();
      const deadline = new AbortController();
      const drained = pool.drain(deadline.signal);
      deadline.abort();
      expect(await drained).to.deep.equal({ finished: 0, dropped: 2 });
      await settle();
      expect(started).to.deep.equal([1]);
      expect((queued.result.error as Error).message).to.include('dropped the task before it started');
      expect(pool.waiting).to.equal(0);
    });

    it('stop drops what is left at once, then waits until its deadline for a task that ignores its signal', async () => {
      const { pool, signals, hold } = track(busyPool({ size: 1, maxQueue: 5 }));
      const stubborn = hold(1);
      const queued = hold(2);
      await settle();
      const deadline = new AbortController();
      const stopped = outcome(pool.stop(deadline.signal));
      await settle();
      expect(signals[0]?.aborted).to.equal(true);
      expect(stubborn.result.error).to.be.instanceOf(PoolDroppedError);
      expect(queued.result.error).to.be.instanceOf(PoolDroppedError);
      expect(stopped.state, 'waits for the task still running').to.equal('pending');
      deadline.abort();
      await settle();
      expect(stopped.state).to.equal('resolved');
      expect(pool.state).to.equal('stopped');
    });

    it('stop after drain is harmless, and a submit after stop is rejected', async () => {
      const pool = new TaskPool('jobs');
      await pool.start();
      await pool.drain();
      await pool.stop();
      await pool.stop();
      expect(pool.state).to.equal('stopped');
      const error = await pool.submit(() => 1).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PoolClosedError);
      expect((error as Error).message).to.equal("pool 'jobs' is stopped and takes no new tasks");
    });
  });

  describe('context', () => {
    let manager: AsyncLocalStorageContextManager | undefined;
    before(() => {
      const candidate = new AsyncLocalStorageContextManager().enable();
      // Another spec may have registered one already (the tracing step does): it propagates the same way.
      if (context.setGlobalContextManager(candidate)) manager = candidate;
      else candidate.disable();
    });
    after(() => {
      if (manager) context.disable();
    });

    const span = (spanId: string): Span =>
      trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId, traceFlags: 1 });

    it('runs each task in its submitter’s context: a span active at submit is active in the task, even when queued', async () => {
      const pool = new TaskPool('jobs', { size: 1 });
      pools.push(pool);
      const gate = deferred();
      const seen: (string | undefined)[] = [];
      const observe = async (): Promise<void> => {
        seen.push(trace.getActiveSpan()?.spanContext().spanId);
        await gate.promise;
        seen.push(trace.getActiveSpan()?.spanContext().spanId);
      };
      const first = context.with(trace.setSpan(context.active(), span('00f067aa0ba902b7')), () => pool.submit(observe));
      const second = context.with(trace.setSpan(context.active(), span('b7ad6b7169203331')), () =>
        pool.submit(observe),
      );
      const third = pool.submit(observe);
      await settle();
      gate.resolve();
      await Promise.all([first, second, third]);
      expect(seen).to.deep.equal([
        '00f067aa0ba902b7',
        '00f067aa0ba902b7',
        'b7ad6b7169203331',
        'b7ad6b7169203331',
        undefined,
        undefined,
      ]);
    });
  });

  describe('metrics', () => {
    it('reports capacity, running, waiting, durations, waits and tasks by outcome, labelled by pool name', async () => {
      const registry = new Registry();
      const { pool, hold } = track(busyPool({ size: 2, maxQueue: 1, nonBlocking: true, registry }));
      const other = new TaskPool('mail', { registry });
      pools.push(other);
      const tasks = [1, 2, 3].map((id) => hold(id));
      hold(4);
      await settle();
      const series = (name: string, pool_name = 'jobs') => metricValue(registry, name, { pool_name });
      expect(await series('dionysus_pool_capacity')).to.equal(2);
      expect(await series('dionysus_pool_capacity', 'mail')).to.equal(10);
      expect(await series('dionysus_pool_tasks_running')).to.equal(2);
      expect(await series('dionysus_pool_tasks_waiting')).to.equal(1);
      tasks[0]!.done.resolve(1);
      tasks[1]!.done.reject(new Error('failed'));
      tasks[2]!.done.resolve(3);
      await settle();
      await pool.submit(() => 'ok');
      const count = (outcome: string) =>
        metricValue(registry, 'dionysus_pool_tasks_total', { pool_name: 'jobs', outcome });
      expect(await count('ok')).to.equal(3);
      expect(await count('error')).to.equal(1);
      expect(await count('rejected')).to.equal(1);
      expect(await count('timeout')).to.equal(0);
      expect(await count('dropped')).to.equal(0);
      expect(await series('dionysus_pool_task_duration_seconds')).to.equal(4);
      expect(await series('dionysus_pool_task_wait_time_seconds')).to.equal(4);
      expect(await series('dionysus_pool_tasks_running')).to.equal(0);
      const labels = (await registry.getMetricsAsJSON())
        .filter((m) => m.name.startsWith('dionysus_pool_'))
        .flatMap((m) => m.values.flatMap((v) => Object.keys(v.labels)));
      expect([...new Set(labels)].sort()).to.deep.equal(['le', 'outcome', 'pool_name']);
    });
  });
});
