/**
 * GETs/s through the dionysus/redis wrapper (metrics, a span per command, the background
 * health PING) vs the bare @redis/client client, against the machine's Redis. Each side runs
 * in its own process (bench/redis-load.ts), order rotated per round; medians.
 * Target (issue 14): ≥ 0.95× bare.
 *
 *   node dist/bench/run.js redis
 *   BENCH_ROUNDS=5 BENCH_SECONDS=5 BENCH_IN_FLIGHT=32 node dist/bench/run.js redis
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { type Bench, benchEnv, formatTable, median, numberFromEnv, targetLine } from './harness.js';

const SUBJECTS = ['bare', 'wrapper'] as const;

function pass(subject: string, seconds: number, inFlight: number): number {
  const out = execFileSync(
    process.execPath,
    [join(__dirname, 'redis-load.js'), subject, String(seconds), String(inFlight)],
    { env: benchEnv(), encoding: 'utf8' },
  );
  const { ops, seconds: took } = JSON.parse(out.trim().split('\n').pop() as string) as { ops: number; seconds: number };
  return ops / took;
}

const bench: Bench = {
  description: 'Redis GETs/s through dionysus/redis (metrics, spans, health PING) vs bare @redis/client',
  run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 3);
    const seconds = numberFromEnv('BENCH_SECONDS', 3);
    const inFlight = numberFromEnv('BENCH_IN_FLIGHT', 16);
    const rates: Record<(typeof SUBJECTS)[number], number[]> = { bare: [], wrapper: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? SUBJECTS : [...SUBJECTS].reverse();
      for (const subject of order) rates[subject].push(pass(subject, seconds, inFlight));
    }
    const bare = median(rates.bare);
    const wrapper = median(rates.wrapper);
    const rows = SUBJECTS.map((s) => [s, median(rates[s]).toFixed(0), (median(rates[s]) / bare).toFixed(2)]);
    return {
      reports: [],
      notes: [
        `GET of one key, ${inFlight} in flight; ${rounds} rounds × ${seconds} s per side, order rotated; medians`,
        '',
        ...formatTable(['', 'GET/s', '× bare'], rows).map((line) => `  ${line}`),
        '',
        targetLine('wrapper GET/s', 'bare @redis/client (medians)', wrapper / bare, 0.95, 'min'),
      ],
    };
  },
};

export default bench;
