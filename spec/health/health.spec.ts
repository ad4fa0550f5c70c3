import { expect } from 'chai';
import type { LifecycleState } from 'dionysus';
import { FakeClock } from 'dionysus/testing';
import { Health, type HealthCheck, type Probe, type ProbeReport } from '../../lib/health/health.js';

// Probe state as transports see it: gates, switches and checks, on a fake clock.

const SETTINGS = { checkTimeoutMs: 1_000, minIntervalMs: 1_000, wedgedAfterMs: 5_000 };

let clock: FakeClock;

function healthWith(settings: Partial<typeof SETTINGS> = {}): Health {
  return new Health({ clock, ...SETTINGS, ...settings });
}

/** A Health whose command has reached `state`. */
function healthAt(state: LifecycleState, settings: Partial<typeof SETTINGS> = {}): Health {
  const health = healthWith(settings);
  feed(health, state);
  return health;
}

function feed(health: Health, state: LifecycleState): void {
  health.observe({ type: 'state', state, command: 'work' });
}

/** A check that takes `ms` of fake time, then passes. */
function slow(ms: number): () => Promise<void> {
  return () => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
}

/** A check that never settles. */
function hang(): Promise<never> {
  return new Promise<never>(() => {});
}

function check(name: string, run: () => unknown, extra: Partial<HealthCheck> = {}): HealthCheck {
  return { probe: 'readiness', name, run, ...extra };
}

/** Starts a report and tells whether it has settled yet, so a spec can move the clock in between. */
function pending(health: Health, probe: Probe): { done: () => boolean; report: Promise<ProbeReport> } {
  let settled = false;
  const report = health.report(probe).finally(() => {
    settled = true;
  });
  return { done: () => settled, report };
}

describe('Health', () => {
  beforeEach(() => {
    clock = new FakeClock();
  });

  describe('check timeouts', () => {
    it('fails the probe when a check hangs past its own timeoutMs, while the other checks pass and are reported', async () => {
      const health = healthAt('running');
      health.addCheck(check('database', hang, { timeoutMs: 50 }));
      health.addCheck(check('cache', () => undefined));

      const { done, report } = pending(health, 'readiness');
      await clock.advance(49);
      expect(done(), 'settled before the check timeout').to.equal(false);
      await clock.advance(1);
      const result = await report;

      expect(result.status).to.equal('fail');
      expect(result.reason).to.equal('check database failed: timed out after 50 ms');
      expect(result.checks).to.deep.equal([
        { name: 'database', status: 'fail', durationMs: 50, error: 'timed out after 50 ms' },
        { name: 'cache', status: 'pass', durationMs: 0 },
      ]);
    });

    it('applies the default check timeout to a check without its own', async () => {
      const health = healthAt('running', { checkTimeoutMs: 300 });
      health.addCheck(check('queue', hang));

      const { done, report } = pending(health, 'readiness');
      await clock.advance(299);
      expect(done()).to.equal(false);
      await clock.advance(1);
      expect((await report).checks[0]).to.deep.include({ status: 'fail', error: 'timed out after 300 ms' });
    });

    it('leaves no timer behind once a check settles', async () => {
      const health = healthAt('running');
      health.addCheck(check('database', slow(10), { timeoutMs: 500 }));
      const { report } = pending(health, 'readiness');
      await clock.advance(10);
      expect((await report).status).to.equal('pass');
      expect(clock.pending).to.equal(0);
    });
  });

  describe('concurrency', () => {
    it('runs the checks of a probe concurrently: two 100 ms checks finish in 100 ms, not 200', async () => {
      const health = healthAt('running');
      health.addCheck(check('first', slow(100)));
      health.addCheck(check('second', slow(100)));

      const { done, report } = pending(health, 'readiness');
      await clock.advance(100);
      expect(done(), 'not settled after 100 ms of fake time: the checks ran one after the other').to.equal(true);
      const result = await report;
      expect(result.status).to.equal('pass');
      expect(result.checks.map((c) => [c.name, c.durationMs])).to.deep.equal([
        ['first', 100],
        ['second', 100],
      ]);
      expect(clock.now()).to.equal(100);
    });

    it('reports a check that throws synchronously like one that rejects', async () => {
      const health = healthAt('running');
      health.addCheck(
        check('sync', () => {
          throw new Error('no connection');
        }),
      );
      health.addCheck(check('async', async () => Promise.reject(new Error('refused'))));
      health.addCheck(check('not an error', () => Promise.reject('plain string')));

      const result = await health.report('readiness');
      expect(result.checks.map((c) => c.error)).to.deep.equal(['no connection', 'refused', 'plain string']);
    });
  });

  describe('minimum interval', () => {
    it('runs each check once for a burst of reports within minIntervalMs, then again after it', async () => {
      const health = healthAt('running', { minIntervalMs: 1_000 });
      const calls = { a: 0, b: 0 };
      health.addCheck(check('a', () => void calls.a++));
      health.addCheck(check('b', () => void calls.b++));

      const burst = await Promise.all(Array.from({ length: 5 }, () => health.report('readiness')));
      await clock.advance(999);
      burst.push(await health.report('readiness'));
      expect(calls).to.deep.equal({ a: 1, b: 1 });
      expect(burst.every((r) => r.status === 'pass')).to.equal(true);

      await clock.advance(1);
      await health.report('readiness');
      expect(calls).to.deep.equal({ a: 2, b: 2 });
    });

    it('keeps the interval per probe: a readiness burst does not delay liveness checks', async () => {
      const health = healthAt('running');
      let liveness = 0;
      health.addCheck(check('ready', () => undefined));
      health.addCheck(check('alive', () => void liveness++, { probe: 'liveness' }));

      await health.report('readiness');
      await health.report('liveness');
      await health.report('liveness');
      expect(liveness).to.equal(1);
    });

    it('gives a failure found within the interval to every report of the burst', async () => {
      const health = healthAt('running');
      let calls = 0;
      health.addCheck(
        check('db', () => {
          calls++;
          throw new Error('down');
        }),
      );
      const reports = await Promise.all([health.report('readiness'), health.report('readiness')]);
      expect(calls).to.equal(1);
      expect(reports.map((r) => r.reason)).to.deep.equal(['check db failed: down', 'check db failed: down']);
    });
  });

  describe('hung checks', () => {
    it('does not call a check again while its previous call is still pending, and calls it once that settles', async () => {
      const health = healthAt('running', { minIntervalMs: 100 });
      let calls = 0;
      let release: () => void = () => {};
      health.addCheck(
        check(
          'database',
          () => {
            calls++;
            return calls === 1 ? new Promise<void>((resolve) => (release = resolve)) : undefined;
          },
          { timeoutMs: 50 },
        ),
      );

      const first = pending(health, 'readiness');
      await clock.advance(50);
      expect((await first.report).checks[0]).to.deep.include({ status: 'fail', error: 'timed out after 50 ms' });

      await clock.advance(100);
      const second = await health.report('readiness');
      expect(calls, 'called again on top of its pending call').to.equal(1);
      expect(second.status).to.equal('fail');
      expect(second.checks[0]).to.deep.equal({
        name: 'database',
        status: 'fail',
        durationMs: 0,
        error: 'still running after 150 ms (its last call has not settled)',
      });

      release();
      await clock.advance(100);
      const third = await health.report('readiness');
      expect(calls).to.equal(2);
      expect(third.status).to.equal('pass');
    });

    it('does not block the other probes while a check hangs', async () => {
      const health = healthAt('running');
      health.addCheck(check('stuck', hang, { timeoutMs: 10_000 }));
      health.addCheck(check('alive', () => undefined, { probe: 'liveness' }));

      const readiness = pending(health, 'readiness');
      expect((await health.report('liveness')).status).to.equal('pass');
      expect((await health.report('startup')).status).to.equal('pass');
      expect(readiness.done()).to.equal(false);
      await clock.advance(10_000);
      expect((await readiness.report).status).to.equal('fail');
    });
  });

  describe('lifecycle gate', () => {
    const statuses = async (health: Health): Promise<Record<Probe, string>> => ({
      startup: (await health.report('startup')).status,
      liveness: (await health.report('liveness')).status,
      readiness: (await health.report('readiness')).status,
    });

    it('fails startup and readiness before the run has started, and passes liveness', async () => {
      for (const state of ['idle', 'starting'] as const) {
        const health = healthAt(state);
        expect(await statuses(health), state).to.deep.equal({ startup: 'fail', liveness: 'pass', readiness: 'fail' });
        const report = await health.report('readiness');
        expect(report).to.deep.include({ gate: 'closed', reason: 'the run has not started yet' });
      }
    });

    it('passes every probe once the command is running', async () => {
      const health = healthAt('starting');
      feed(health, 'running');
      expect(await statuses(health)).to.deep.equal({ startup: 'pass', liveness: 'pass', readiness: 'pass' });
      expect(await health.report('readiness')).to.deep.include({ gate: 'open', switch: 'open' });
    });

    it('fails readiness and startup the moment a shutdown begins, while liveness still passes', async () => {
      const health = healthAt('running');
      feed(health, 'stopping');
      expect(await statuses(health)).to.deep.equal({ startup: 'fail', liveness: 'pass', readiness: 'fail' });
      expect((await health.report('readiness')).reason).to.equal('the command is shutting down');
    });

    it('fails every probe once the command has stopped', async () => {
      const health = healthAt('running');
      feed(health, 'stopping');
      feed(health, 'stopped');
      expect(await statuses(health)).to.deep.equal({ startup: 'fail', liveness: 'fail', readiness: 'fail' });
      expect((await health.report('liveness')).reason).to.equal('the command has stopped');
    });

    it('fails readiness when a shutdown begins while its checks are running', async () => {
      const health = healthAt('running');
      health.addCheck(check('slow', slow(100)));
      const { report } = pending(health, 'readiness');
      feed(health, 'stopping');
      await clock.advance(100);
      const result = await report;
      expect(result).to.deep.include({ status: 'fail', gate: 'closed', reason: 'the command is shutting down' });
      expect(result.checks.map((c) => c.name)).to.deep.equal(['slow']);
    });

    it('does not run checks while the gate is closed', async () => {
      const health = healthAt('starting');
      let calls = 0;
      health.addCheck(check('db', () => void calls++));
      expect((await health.report('readiness')).checks).to.deep.equal([]);
      expect(calls).to.equal(0);
    });

    it('ignores events other than state changes', async () => {
      const health = healthAt('running');
      health.observe({ type: 'signal', signal: 'SIGTERM', command: 'work', forced: false });
      expect(health.state).to.equal('running');
      expect((await health.report('readiness')).status).to.equal('pass');
    });

    it('fails liveness while the event loop was blocked past wedgedAfterMs, and passes again once it is not', async () => {
      const health = healthAt('running', { wedgedAfterMs: 5_000 });
      const gates: { open: boolean; reason?: string }[] = [];
      health.onChange(() => gates.push(health.gate('liveness')));
      health.startLagMonitor(5);
      try {
        // The monitor compares the clock against its schedule; a clock that jumped 6 s between two samples is a blocked loop.
        await clock.advance(6_000);
        await until(() => gates.length >= 2);
      } finally {
        health.stop();
      }
      expect(gates[0]?.open).to.equal(false);
      expect(gates[0]?.reason).to.match(/^the event loop was blocked for \d+ ms$/);
      expect(gates[1]).to.deep.equal({ open: true });
    });
  });

  describe('switches', () => {
    it('fails a probe whose switch is closed, shows it in the report, and passes again once reopened', async () => {
      const health = healthAt('running');
      let calls = 0;
      health.addCheck(check('db', () => void calls++));

      health.setSwitch('readiness', false);
      expect(health.switchOf('readiness')).to.equal('closed');
      expect(await health.report('readiness')).to.deep.equal({
        probe: 'readiness',
        status: 'fail',
        reason: 'readiness is switched closed',
        gate: 'open',
        switch: 'closed',
        checks: [],
      });
      expect(calls, 'checks ran for a closed switch').to.equal(0);
      expect((await health.report('liveness')).status, 'one switch closed another probe').to.equal('pass');

      health.setSwitch('readiness', true);
      const reopened = await health.report('readiness');
      expect(reopened).to.deep.include({ status: 'pass', switch: 'open' });
      expect(calls).to.equal(1);
    });

    it('keeps the switch state through lifecycle changes, reporting the gate reason first', async () => {
      const health = healthAt('running');
      health.setSwitch('startup', false);
      feed(health, 'stopped');
      expect(await health.report('startup')).to.deep.include({
        status: 'fail',
        gate: 'closed',
        switch: 'closed',
        reason: 'the command has stopped',
      });
    });
  });

  describe('reports', () => {
    it('gives the status, a reason naming every failed check, and per check its name, status, duration and error', async () => {
      const health = healthAt('running');
      health.addCheck(check('database', slow(30)));
      health.addCheck(
        check('queue', async () => {
          await slow(20)();
          throw new Error('connection refused');
        }),
      );
      health.addCheck(check('cache', hang, { timeoutMs: 40 }));

      const { report } = pending(health, 'readiness');
      await clock.advance(40);
      expect(await report).to.deep.equal({
        probe: 'readiness',
        status: 'fail',
        reason: 'check queue failed: connection refused; check cache failed: timed out after 40 ms',
        gate: 'open',
        switch: 'open',
        checks: [
          { name: 'database', status: 'pass', durationMs: 30 },
          { name: 'queue', status: 'fail', durationMs: 20, error: 'connection refused' },
          { name: 'cache', status: 'fail', durationMs: 40, error: 'timed out after 40 ms' },
        ],
      });
    });

    it('serializes to JSON with no reason when the probe passes', async () => {
      const health = healthAt('running');
      health.addCheck(check('database', () => undefined));
      const json = JSON.parse(JSON.stringify(await health.report('readiness')));
      expect(json).to.deep.equal({
        probe: 'readiness',
        status: 'pass',
        gate: 'open',
        switch: 'open',
        checks: [{ name: 'database', status: 'pass', durationMs: 0 }],
      });
    });

    it('passes a probe that has no checks on its gate and switch alone', async () => {
      const report = await healthAt('running').report('startup');
      expect(report).to.deep.equal({ probe: 'startup', status: 'pass', gate: 'open', switch: 'open', checks: [] });
    });

    it('fails a check that returns false, saying that checks fail by throwing', async () => {
      const health = healthAt('running');
      health.addCheck(check('flag', () => false));
      health.addCheck(check('async flag', async () => false));
      const report = await health.report('readiness');
      expect(report.status).to.equal('fail');
      for (const result of report.checks) {
        expect(result.status).to.equal('fail');
        expect(result.error).to.equal('returned false; a check fails by throwing (or rejecting)');
      }
    });

    it('passes a check that returns a value other than false', async () => {
      const health = healthAt('running');
      health.addCheck(check('truthy', () => true));
      health.addCheck(check('object', async () => ({ latencyMs: 3 })));
      expect((await health.report('readiness')).status).to.equal('pass');
    });

    it('tells check listeners every result, and a throwing listener breaks neither the report nor the others', async () => {
      const health = healthAt('running');
      health.addCheck(check('db', () => undefined));
      const seen: string[] = [];
      health.onCheck(() => {
        throw new Error('broken metrics');
      });
      health.onCheck((probe, result) => seen.push(`${probe} ${result.name} ${result.status}`));
      const report = await health.report('readiness');
      expect(report.status).to.equal('pass');
      expect(seen).to.deep.equal(['readiness db pass']);
    });
  });

  describe('onChange', () => {
    it('fires on every gate change and switch change, and not for a change to the same value', () => {
      const health = healthWith();
      let changes = 0;
      const unsubscribe = health.onChange(() => changes++);

      feed(health, 'starting');
      feed(health, 'running');
      feed(health, 'running');
      expect(changes).to.equal(2);

      health.setSwitch('readiness', false);
      health.setSwitch('readiness', false);
      health.setSwitch('readiness', true);
      expect(changes).to.equal(4);

      unsubscribe();
      feed(health, 'stopping');
      expect(changes).to.equal(4);
    });

    it('keeps calling the other listeners when one throws', () => {
      const health = healthWith();
      let calls = 0;
      health.onChange(() => {
        throw new Error('broken transport');
      });
      health.onChange(() => calls++);
      health.setSwitch('liveness', false);
      expect(calls).to.equal(1);
    });
  });
});

/** Polls a condition that real (not fake) timers make true, with a deadline. */
async function until(done: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
