/**
 * Runs the benchmarks: every `bench/*.bench.ts` (compiled next to this file),
 * or those named on the command line.
 *
 *   npm run bench                    # all
 *   npm run bench -- cold-start      # bench/cold-start.bench.ts only
 *   npm run bench -- pool            # bench/pool.bench.ts: TaskPool vs bare p-queue, in one process
 *   npm run bench -- sql             # bench/sql.bench.ts: dionysus/sql vs bare Kysely (SQLite, PostgreSQL)
 *   npm run bench -- redis           # bench/redis.bench.ts: GET through dionysus/redis vs bare @redis/client
 *   BENCH_RUNS=60 npm run bench      # more runs per command (BENCH_WARMUPS too)
 *   BENCH_MEMORY=off npm run bench   # wall times only (also the fallback without GNU time)
 *
 * A bench whose command fails makes the exit code 1; a missed target does not.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Bench, formatReport, REPO_ROOT } from './harness.js';

const SUFFIX = '.bench.js';

async function main(names: readonly string[]): Promise<number> {
  const available = readdirSync(__dirname)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    // a compiled bench whose source was removed or renamed is stale
    .filter((name) => existsSync(join(REPO_ROOT, 'bench', `${name}.bench.ts`)))
    .sort();
  const unknown = names.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`no bench named ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
    return 2;
  }
  let failed = 0;
  for (const name of names.length > 0 ? names : available) {
    const bench = (require(join(__dirname, name + SUFFIX)) as { default: Bench }).default;
    process.stdout.write(`\n== ${name}: ${bench.description}\n\n`);
    try {
      const result = await bench.run();
      for (const report of result.reports) process.stdout.write(`${formatReport(report)}\n\n`);
      for (const note of result.notes ?? []) process.stdout.write(`  ${note}\n`);
    } catch (error) {
      failed++;
      process.stderr.write(`${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
