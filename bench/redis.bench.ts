/**
 * GETs/s through the dionysus/redis wrapper (metrics through node-redis's tracing channel, the
 * background health PING; no tracer provider, an app's default, so no spans) vs the bare
 * @redis/client client, against the machine's Redis. Each side runs in its own process
 * (bench/redis-load.ts), order rotated per round; medians. The client's CPU per GET is shown too:
 * the machine's other load inflates wall time, not a process's own CPU time.
 * Target (issue 14): ≥ 0.95× bare.
 *
 *   node dist/bench/run.js redis
 *   BENCH_ROUNDS=7 BENCH_SECONDS=5 BENCH_IN_FLIGHT=32 node dist/bench/run.js redis
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { type Bench, benchEnv, formatTable, median, numberFromEnv, targetLine } from './harness.js';

const SUBJECTS = ['bare', 'wrapper'] as const;

interface Pass {
  /** GETs per second of wall time. */
  readonly rate: number;
  /** The client process's CPU time per GET, µs. */
  readonly cpuUs: number;
}

function pass(subject: string, seconds: number, inFlight: number): Pass {
  const out = execFileSync(
    process.execPath,
    [join(__dirname, 'redis-load.js'), subject, String(seconds), String(inFlight)],
    { env: benchEnv(), encoding: 'utf8' },
  );
  const last = out.trim().split('\n').pop() as string;
  const { ops, seconds: took, cpuUs } = JSON.parse(last) as { ops: number; seconds: number; cpuUs: number };
  return { rate: ops / took, cpuUs: cpuUs / ops };
}

const bench: Bench = {
  description: 'Redis GETs/s through dionysus/redis (metrics, health PING) vs bare @redis/client',
  run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 5);
    const seconds = numberFromEnv('BENCH_SECONDS', 3);
    const inFlight = numberFromEnv('BENCH_IN_FLIGHT', 16);
    const rates: Record<(typeof SUBJECTS)[number], number[]> = { bare: [], wrapper: [] };
    const cpu: Record<(typeof SUBJECTS)[number], number[]> = { bare: [], wrapper: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? SUBJECTS : [...SUBJECTS].reverse();
      for (const subject of order) {
        const { rate, cpuUs } = pass(subject, seconds, inFlight);
        rates[subject].push(rate);
        cpu[subject].push(cpuUs);
      }
    }
    const bare = median(rates.bare);
    const wrapper = median(rates.wrapper);
    const rows = SUBJECTS.map((s) => [
      s,
      median(rates[s]).toFixed(0),
      (median(rates[s]) / bare).toFixed(2),
      median(cpu[s]).toFixed(1),
      (median(cpu[s]) / median(cpu.bare)).toFixed(2),
    ]);
    return {
      reports: [],
      notes: [
        `GET of one key, ${inFlight} in flight; ${rounds} rounds × ${seconds} s per side, order rotated; medians`,
        '',
        ...formatTable(['', 'GET/s', '× bare', 'client CPU µs/GET', '× bare'], rows).map((line) => `  ${line}`),
        '',
        targetLine('wrapper GET/s', 'bare @redis/client (medians)', wrapper / bare, 0.95, 'min'),
      ],
    };
  },
};

export default bench;
