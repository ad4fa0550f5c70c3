import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { fixture, killChildren, stackLines } from '../integration/child.js';
import {
  descriptorOf,
  eventually,
  HEARTBEAT_MS,
  heartbeatOf,
  type ProbeRun,
  probe,
  probeUntil,
  readRuntimeFile,
  removeRuntimeDirs,
  runtimeDir,
  startCtl,
} from './probe-children.js';

// `app startup|liveness|readiness` as separate processes against the sample's
// `ctl` command running as a child, each test in its own runtime dir.

const PROBES = ['startup', 'liveness', 'readiness'] as const;

interface HeartbeatFile {
  pid: number;
  at: number;
  probes: Record<string, { status: string; reason?: string }>;
}

/** Runs all three probes at once. */
function allProbes(dir: string | undefined, env?: Record<string, string | undefined>): Promise<ProbeRun[]> {
  return Promise.all(PROBES.map((name) => probe(dir, [name], env)));
}

/** A clear failed probe: exit 1, one line on stdout, nothing on stderr, no stack trace. */
function expectCleanFailure(run: ProbeRun, line: string): void {
  expect(run.line).to.equal(line);
  expect(run.code, run.stdout + run.stderr).to.equal(1);
  expect(run.stderr).to.equal('');
  expect(stackLines(run.stdout + run.stderr)).to.deep.equal([]);
}

/** A descriptor as a ctl command writes it, for a command this spec pretends runs. */
function fakeDescriptor(dir: string, command: string, pid: number, extra: Record<string, unknown> = {}): void {
  writeFileSync(
    descriptorOf(dir, command),
    JSON.stringify({
      format: 1,
      app: 'app',
      command,
      transport: 'ctl',
      pid,
      entry: 'fake',
      startedAt: new Date().toISOString(),
      ...extra,
    }),
  );
}

function fakeHeartbeat(dir: string, command: string, pid: number, readiness: { status: string; reason?: string }) {
  const pass = { status: 'pass' };
  writeFileSync(
    heartbeatOf(dir, command),
    JSON.stringify({
      format: 1,
      pid,
      at: Date.now(),
      staleAfterMs: 60_000,
      probes: { startup: pass, liveness: pass, readiness },
    }),
  );
}

describe('exec probes against a ctl command', () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
  });

  it('fails every probe before the command starts: no descriptor, exit 1 and a line saying so', async () => {
    const dir = runtimeDir();
    const runs = await allProbes(dir);
    runs.forEach((run, i) => {
      expectCleanFailure(run, `${PROBES[i]} failed: no running command found in ${dir}`);
    });
  });

  it('passes every probe while the command runs: exit 0 and ok', async () => {
    const { dir, pid } = await startCtl();
    const runs = await allProbes(dir);
    expect(runs.map((r) => [r.code, r.line])).to.deep.equal([
      [0, 'startup ok'],
      [0, 'liveness ok'],
      [0, 'readiness ok'],
    ]);
    expect(readRuntimeFile(descriptorOf(dir))).to.deep.include({ app: 'app', command: 'ctl', transport: 'ctl', pid });
  });

  it('passes readiness while its check awaits a dependency slower than the heartbeat interval', async () => {
    const { dir } = await startCtl({ env: { SAMPLE_DEPENDENCY_LATENCY_MS: String(2 * HEARTBEAT_MS) } });
    const run = await probeUntil(dir, ['readiness'], (r) => r.code === 0, { timeoutMs: 3_000 });
    expect(run.line).to.equal('readiness ok');
    // And it keeps passing: a slow check never leaves a stale heartbeat behind.
    await new Promise((resolve) => setTimeout(resolve, 4 * HEARTBEAT_MS));
    const later = await allProbes(dir);
    expect(later.map((r) => [r.code, r.line])).to.deep.equal([
      [0, 'startup ok'],
      [0, 'liveness ok'],
      [0, 'readiness ok'],
    ]);
  });

  it('fails readiness naming the failing check, while liveness and startup still pass', async () => {
    const { dir } = await startCtl({ env: { SAMPLE_DEPENDENCY_DOWN: '1' } });
    const [startup, liveness, readiness] = await allProbes(dir);
    expectCleanFailure(readiness as ProbeRun, 'readiness failed: check dependency failed: dependency unreachable');
    expect([startup?.code, liveness?.code]).to.deep.equal([0, 0]);
  });

  it('closes readiness with HEALTH_STATUS=close within 1.5 heartbeat intervals, and reopens it with HEALTH_STATUS=open', async () => {
    const { dir } = await startCtl();
    const writtenAt = Date.now();
    const close = await probe(dir, ['readiness'], { HEALTH_STATUS: 'close' });
    expect(close.code, close.stdout + close.stderr).to.equal(0);
    expect(close.line).to.equal('readiness ok: switch close');

    let closedAt = 0;
    await eventually(() => {
      const beat = readRuntimeFile<HeartbeatFile>(heartbeatOf(dir));
      if (beat?.probes.readiness?.reason !== 'readiness is switched closed') return false;
      closedAt = beat.at;
      return true;
    }, 'a heartbeat with readiness switched closed');
    expect(closedAt - writtenAt, 'ms from the probe starting to a heartbeat showing it').to.be.at.most(
      1.5 * HEARTBEAT_MS,
    );

    expectCleanFailure(await probe(dir, ['readiness']), 'readiness failed: readiness is switched closed');
    expect((await probe(dir, ['liveness'])).code, 'liveness has its own switch').to.equal(0);

    const open = await probe(dir, ['readiness'], { HEALTH_STATUS: 'open' });
    expect(open.code).to.equal(0);
    const reopened = await probeUntil(dir, ['readiness'], (run) => run.code === 0);
    expect(reopened.line).to.equal('readiness ok');
  });

  it('flips only the switch of the probe it names, and keeps earlier flips of other probes', async () => {
    const { dir } = await startCtl();
    expect((await probe(dir, ['liveness'], { HEALTH_STATUS: 'close' })).code).to.equal(0);
    expect((await probe(dir, ['startup'], { HEALTH_STATUS: 'close' })).code).to.equal(0);

    const liveness = await probeUntil(dir, ['liveness'], (run) => run.code === 1);
    expectCleanFailure(liveness, 'liveness failed: liveness is switched closed');
    const [startup, , readiness] = await allProbes(dir);
    expectCleanFailure(startup as ProbeRun, 'startup failed: startup is switched closed');
    expect(readiness?.line).to.equal('readiness ok');
  });

  it('fails readiness and startup while the Shutdown hooks run after SIGTERM, and every probe once the process has exited', async () => {
    const { child, dir } = await startCtl({ script: fixture('slow-shutdown') });
    child.signal('SIGTERM');
    await child.waitForLine('flushing');
    // Both gates closed when the shutdown began; the heartbeat written then says so. Liveness still passes.
    const [startup, liveness, readiness] = await allProbes(dir);
    expectCleanFailure(readiness as ProbeRun, 'readiness failed: the command is shutting down');
    expectCleanFailure(startup as ProbeRun, 'startup failed: the command is shutting down');
    expect(liveness?.code).to.equal(0);

    writeFileSync(join(dir, 'release'), '');
    const exit = await child.waitForExit();
    expect(exit.code).to.equal(0);
    expect(readdirSync(dir)).to.deep.equal(['release']);
    for (const run of await allProbes(dir)) expect(run.code).to.equal(1);
  });

  it('removes the runtime files when the sample stops on SIGTERM, so the probes fail after it', async () => {
    const { child, dir } = await startCtl();
    await probe(dir, ['readiness'], { HEALTH_STATUS: 'close' });
    child.signal('SIGTERM');
    expect((await child.waitForExit()).code).to.equal(0);
    expect(readdirSync(dir), 'descriptor, heartbeat and control files left behind').to.deep.equal([]);
    const runs = await allProbes(dir);
    runs.forEach((run, i) => {
      expectCleanFailure(run, `${PROBES[i]} failed: no running command found in ${dir}`);
    });
  });

  it('fails every probe after the process died with SIGKILL: its descriptor names a pid that is not running', async () => {
    const { child, dir, pid } = await startCtl();
    child.signal('SIGKILL');
    await child.waitForExit();
    expect(existsSync(descriptorOf(dir)), 'a killed process cannot remove its descriptor').to.equal(true);
    const runs = await allProbes(dir);
    runs.forEach((run, i) => {
      expectCleanFailure(run, `${PROBES[i]} failed: process ${pid} of command ctl is not running (stale descriptor)`);
    });
  });

  it('fails the probes once the heartbeat is stale (a stopped process), and passes again once it continues', async () => {
    const { child, dir } = await startCtl();
    child.signal('SIGSTOP');
    try {
      const stale = await probeUntil(dir, ['liveness'], (run) => run.code === 1);
      expect(stale.line).to.match(/^liveness failed: heartbeat is stale \(refreshed \d+\.\d s ago, limit 0\.6 s\)$/);
      expect(stale.stderr).to.equal('');
      expect((await probe(dir, ['readiness'])).line).to.match(/^readiness failed: heartbeat is stale/);
    } finally {
      child.signal('SIGCONT');
    }
    const alive = await probeUntil(dir, ['liveness'], (run) => run.code === 0);
    expect(alive.line).to.equal('liveness ok');
  });

  it('fails clearly, without a stack trace, when the descriptor of a running command holds garbage', async () => {
    const { dir } = await startCtl();
    const path = descriptorOf(dir);
    const cases: [string, string][] = [
      ['{ not json', `${path} is not valid JSON`],
      ['', `${path} is not valid JSON`],
      ['null', `${path} is not a runtime descriptor`],
      ['{"format":1,"command":"ctl","pid":"42","transport":"ctl"}', `${path} is not a runtime descriptor`],
      ['{"format":1,"command":"ctl","pid":42,"transport":"pigeon"}', `${path} is not a runtime descriptor`],
    ];
    for (const [garbage, why] of cases) {
      writeFileSync(path, garbage);
      expectCleanFailure(
        await probe(dir, ['readiness']),
        `readiness failed: no running command found in ${dir} (${why})`,
      );
    }
  });

  it('fails clearly, without a stack trace, when the heartbeat file holds garbage or is missing', async () => {
    const pid = process.pid; // a live process, so only the heartbeat is at fault
    const cases: [string | undefined, string][] = [
      ['garbage', 'no heartbeat: HEARTBEAT is not valid JSON'],
      ['', 'no heartbeat: HEARTBEAT is not valid JSON'],
      ['[]', 'heartbeat HEARTBEAT has an unexpected shape'],
      [
        '{"format":1,"pid":PID,"at":"yesterday","staleAfterMs":600,"probes":{}}',
        'heartbeat HEARTBEAT has an unexpected shape',
      ],
      [
        '{"format":1,"pid":1,"at":NOW,"staleAfterMs":600000,"probes":{"readiness":{"status":"pass"}}}',
        'heartbeat HEARTBEAT belongs to another process',
      ],
      [undefined, 'no heartbeat: HEARTBEAT does not exist'],
    ];
    const runs = await Promise.all(
      cases.map(async ([garbage]) => {
        const dir = runtimeDir();
        fakeDescriptor(dir, 'ctl', pid);
        const content = garbage?.replace('PID', String(pid)).replace('NOW', String(Date.now()));
        if (content !== undefined) writeFileSync(heartbeatOf(dir), content);
        return { dir, run: await probe(dir, ['readiness']) };
      }),
    );
    runs.forEach(({ dir, run }, i) => {
      expectCleanFailure(run, `readiness failed: ${cases[i]?.[1].replace('HEARTBEAT', heartbeatOf(dir))}`);
    });
  });

  it('fails when the runtime dir does not exist, from the environment or --runtime-dir, and creates nothing', async () => {
    const missing = join(runtimeDir(), 'missing');
    const [fromEnv, fromFlag, flip] = await Promise.all([
      probe(missing, ['liveness']),
      probe(undefined, ['liveness', '--runtime-dir', missing]),
      probe(missing, ['readiness'], { HEALTH_STATUS: 'close' }),
    ]);
    expectCleanFailure(fromEnv as ProbeRun, `liveness failed: no running command found in ${missing}`);
    expectCleanFailure(fromFlag as ProbeRun, `liveness failed: no running command found in ${missing}`);
    expectCleanFailure(flip as ProbeRun, `readiness failed: no running command found in ${missing}`);
    expect(existsSync(missing)).to.equal(false);
  });

  it('exits 2 with a message for bad arguments (and the usage) or a bad HEALTH_STATUS', async () => {
    const dir = runtimeDir();
    const cases: [string[], Record<string, string>, string][] = [
      [['readiness', '--timeout', 'abc'], {}, '--timeout must be a positive number of milliseconds, got "abc"'],
      [['readiness', '--timeout=-5'], {}, '--timeout must be a positive number of milliseconds, got "-5"'],
      // Past 2^31 - 1 ms a timer fires after 1 ms: the probe would fail at once, blaming the app.
      [
        ['readiness', '--timeout', '3000000000'],
        {},
        '--timeout 3000000000 is longer than 2147483647 ms, the longest a timer can wait',
      ],
      [['liveness', '--verbose'], {}, 'unknown option "--verbose"'],
      [['liveness', '--verbose', 'yes'], {}, 'unknown option "--verbose"'],
      [['startup', 'now'], {}, 'unexpected argument "now"'],
      [['startup', '--command'], {}, 'option --command needs a value'],
      [['readiness'], { HEALTH_STATUS: 'bogus' }, 'HEALTH_STATUS must be open or close, got "bogus"'],
    ];
    const runs = await Promise.all(cases.map(([args, env]) => probe(dir, args, env)));
    runs.forEach((run, i) => {
      const [args, env, message] = cases[i] as (typeof cases)[number];
      const what = `${JSON.stringify(env)} ${args.join(' ')}`;
      expect(run.code, what).to.equal(2);
      expect(run.stdout, what).to.equal('');
      expect(run.stderr.split('\n')[0], what).to.equal(message);
      // The usage helps with arguments; an environment variable's message stands alone.
      if (!env.HEALTH_STATUS) expect(run.stderr, what).to.include('usage: <app> startup|liveness|readiness');
      expect(stackLines(run.stderr), what).to.deep.equal([]);
    });
  });

  it('picks the command with --command when two commands have descriptors in one dir', async () => {
    const { dir, pid } = await startCtl();
    fakeDescriptor(dir, 'worker', pid);
    fakeHeartbeat(dir, 'worker', pid, { status: 'fail', reason: 'worker queue not connected' });

    const [either, ctl, inline, worker, unknown] = await Promise.all([
      probe(dir, ['readiness']),
      probe(dir, ['readiness', '--command', 'ctl']),
      probe(dir, ['readiness', '--command=ctl']),
      probe(dir, ['readiness', '--command', 'worker']),
      probe(dir, ['readiness', '--command', 'nope']),
    ]);
    expect(either?.code).to.equal(1);
    expect(either?.line).to.match(
      /^readiness failed: several commands run here \((ctl, worker|worker, ctl)\); pass --command NAME$/,
    );
    expect([ctl?.code, ctl?.line]).to.deep.equal([0, 'readiness ok']);
    expect([inline?.code, inline?.line]).to.deep.equal([0, 'readiness ok']);
    expectCleanFailure(worker as ProbeRun, 'readiness failed: worker queue not connected');
    expectCleanFailure(unknown as ProbeRun, `readiness failed: no running command nope found in ${dir}`);
  });

  it('keeps two instances in different runtime dirs apart: neither sees the files or switches of the other', async () => {
    const [a, b] = await Promise.all([startCtl(), startCtl()]);
    expect(readRuntimeFile(descriptorOf(a.dir))?.pid).to.equal(a.pid);
    expect(readRuntimeFile(descriptorOf(b.dir))?.pid).to.equal(b.pid);
    expect(readRuntimeFile(heartbeatOf(b.dir))?.pid).to.equal(b.pid);

    expect((await probe(a.dir, ['readiness'], { HEALTH_STATUS: 'close' })).code).to.equal(0);
    await probeUntil(a.dir, ['readiness'], (run) => run.code === 1);
    expect((await probe(b.dir, ['readiness'])).line).to.equal('readiness ok');

    a.child.signal('SIGKILL');
    await a.child.waitForExit();
    expectCleanFailure(
      await probe(a.dir, ['readiness']),
      `readiness failed: process ${a.pid} of command ctl is not running (stale descriptor)`,
    );
    expect((await probe(b.dir, ['readiness'])).line).to.equal('readiness ok');
    expect(readdirSync(b.dir).sort()).to.deep.equal(['ctl.descriptor.json', 'ctl.heartbeat.json', 'ctl.sock']);
  });
});
