import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { REPO_ROOT } from '../../bench/harness.js';

/**
 * Runs `body` in a fresh node process (no AsyncLocalStorage used yet, so no async hook is
 * installed) with `pool` (a TaskPool of size 1), `als` (an AsyncLocalStorage nothing has used)
 * and `gate()`/`release()` at hand; prints what `body` resolves to.
 */
function inFreshProcess(body: string): unknown {
  const script = `
    const { AsyncLocalStorage } = require('node:async_hooks');
    const { TaskPool } = require('dionysus/pool');
    const pool = new TaskPool('jobs', { size: 1 });
    const als = new AsyncLocalStorage();
    let release;
    const gate = () => new Promise((resolve) => { release = resolve; });
    (async () => { ${body} })().then((seen) => process.stdout.write(JSON.stringify(seen ?? null)));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: REPO_ROOT, encoding: 'utf8' }));
}

// A waiting task is bound to its submitter's context only while an async context is in use
// (bench/pool's per-task target); these are the cases where that decision could go wrong.
describe('dionysus/pool TaskPool and AsyncLocalStorage', function () {
  this.timeout(20_000);

  it('a task queued in the first store ever used sees that store', () => {
    const seen = inFreshProcess(`
      const first = pool.submit(gate);
      const queued = als.run('request-1', () => pool.submit(() => als.getStore()));
      release();
      return [await first, await queued];
    `);
    expect(seen).to.deep.equal([null, 'request-1']);
  });

  it('a task queued before any store existed starts in none, even when a call inside a store starts it', () => {
    const seen = inFreshProcess(`
      const first = pool.submit(gate);
      const queued = pool.submit(() => als.getStore() ?? 'no store');
      // tune starts waiting tasks at once, in its caller's context: here a request's store.
      als.run('request-2', () => pool.tune(2));
      release();
      return [await first, await queued];
    `);
    expect(seen).to.deep.equal([null, 'no store']);
  });
});
