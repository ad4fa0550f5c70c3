/**
 * Submit-to-start overhead of a dionysus/pool TaskPool (metrics on, the
 * submitter's context kept) against bare p-queue, in this one process:
 * per task, the time from the submit call to the task's first line, on an
 * idle pool (the task starts at once) and through a queue (tasks wait behind
 * others; ns per task from the first submit to the last end). Subjects
 * alternate round by round so machine noise hits both alike; medians.
 * The ratios to bare p-queue compare the two subjects' rounds that ran back
 * to back, never the medians of each: on a shared 2-core machine the load
 * drifts between rounds (one slow pair of rounds moved an idle ratio from
 * 0.94 to 1.39). And a queued round pays for the garbage of the round run
 * just before it (the previous subject's 20,000 promoted tasks are collected
 * during it): the round run second measured 1.15–1.17× the one run first, so
 * with 9 rounds, 5 of which run bare p-queue first, a median lands on the
 * TaskPool's penalised side. The ratio is thus the geometric mean, over the
 * two orders, of the median ratio of the rounds run in that order, which
 * cancels a carry-over that hits whichever subject runs second; both
 * subjects still do all their work in every round.
 * Target (issue 14): ≤ 1.1× bare p-queue.
 *
 *   node dist/bench/run.js pool
 *   BENCH_ROUNDS=9 BENCH_TASKS=50000 node dist/bench/run.js pool
 */
import type PQueue from 'p-queue';
import { Registry } from 'prom-client';
import { TaskPool } from '../lib/pool/index.js';
import { type Bench, formatTable, median, numberFromEnv, targetLine } from './harness.js';

interface Subject {
  readonly name: string;
  /** Submits `task`; resolves when it ended. */
  readonly make: () => { submit(task: () => void): Promise<unknown>; close(): Promise<void> };
  readonly idleUs: number[];
  readonly queuedNs: number[];
}

const CONCURRENCY = 8;

async function idleRound(subject: Subject, tasks: number): Promise<void> {
  const pool = subject.make();
  const samples: number[] = [];
  let started = 0;
  const task = (): void => {
    started = performance.now();
  };
  for (let i = 0; i < tasks; i++) {
    const submitted = performance.now();
    await pool.submit(task);
    samples.push(started - submitted);
  }
  await pool.close();
  subject.idleUs.push(median(samples) * 1000);
}

async function queuedRound(subject: Subject, tasks: number): Promise<void> {
  const pool = subject.make();
  const task = (): void => {};
  const begun = process.hrtime.bigint();
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < tasks; i++) all.push(pool.submit(task));
  await Promise.all(all);
  subject.queuedNs.push(Number(process.hrtime.bigint() - begun) / tasks);
  await pool.close();
}

const bench: Bench = {
  description: 'submit-to-start overhead of a TaskPool (metrics, context) vs bare p-queue',
  async run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 5);
    const tasks = numberFromEnv('BENCH_TASKS', 20_000);
    const { default: Queue } = require('p-queue') as typeof import('p-queue');
    const bare: Subject = {
      name: 'bare p-queue',
      make: () => {
        const queue: PQueue = new Queue({ concurrency: CONCURRENCY });
        return { submit: (task) => queue.add(task), close: async () => queue.clear() };
      },
      idleUs: [],
      queuedNs: [],
    };
    const wrapped: Subject = {
      name: 'dionysus TaskPool',
      make: () => {
        const pool = new TaskPool('bench', { size: CONCURRENCY, maxQueue: tasks, registry: new Registry() });
        return { submit: (task) => pool.submit(task), close: () => pool.stop() };
      },
      idleUs: [],
      queuedNs: [],
    };
    const subjects = [bare, wrapped];
    // One unmeasured round each warms the JIT.
    for (const subject of subjects) {
      await idleRound(subject, tasks);
      await queuedRound(subject, tasks);
      subject.idleUs.length = 0;
      subject.queuedNs.length = 0;
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? subjects : [...subjects].reverse();
      for (const subject of order) await idleRound(subject, tasks);
      for (const subject of order) await queuedRound(subject, tasks);
    }
    const idle = (s: Subject): number => median(s.idleUs);
    const queued = (s: Subject): number => median(s.queuedNs);
    // Round i of every subject ran back to back, bare p-queue first when i is even (see the top).
    const ratio = (of: readonly number[], to: readonly number[]): number => {
      const ratios = of.map((v, i) => v / to[i]!);
      const orders = [0, 1]
        .map((order) => ratios.filter((_, i) => i % 2 === order))
        .filter((some) => some.length > 0)
        .map(median);
      return orders.reduce((product, r) => product * r, 1) ** (1 / orders.length);
    };
    const idleRatio = (s: Subject): number => ratio(s.idleUs, bare.idleUs);
    const queuedRatio = (s: Subject): number => ratio(s.queuedNs, bare.queuedNs);
    const rows = subjects.map((s) => [
      s.name,
      idle(s).toFixed(2),
      idleRatio(s).toFixed(2),
      queued(s).toFixed(0),
      queuedRatio(s).toFixed(2),
    ]);
    return {
      reports: [],
      notes: [
        `${tasks} tasks per round, ${rounds} rounds per subject, alternating; concurrency ${CONCURRENCY}; medians (× bare: of the rounds run back to back, both orders alike)`,
        '',
        ...formatTable(['', 'idle submit→start µs', '× bare', 'queued ns/task', '× bare'], rows).map(
          (line) => `  ${line}`,
        ),
        '',
        targetLine('TaskPool submit→start (idle pool)', 'bare p-queue', idleRatio(wrapped), 1.1),
        targetLine('TaskPool ns/task (through the queue)', 'bare p-queue', queuedRatio(wrapped), 1.1),
      ],
    };
  },
};

export default bench;
