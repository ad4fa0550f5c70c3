import { execFileSync } from 'node:child_process';
import { chownSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { killChildren, SAMPLE, stackLines } from '../integration/child.js';
import { attacker, removeSharedTmps, sharedTmp, skipReason } from '../support/attacker.js';
import {
  descriptorOf,
  heartbeatOf,
  type ProbeRun,
  probe,
  removeRuntimeDirs,
  runtimeDir,
  startCtl,
} from './probe-children.js';

// The exec probe reads files another process wrote: it must trust only its
// own user's files in its own user's directory, read them without blocking,
// and take no path from their content.

/**
 * A descriptor as a ctl command writes it. It names its heartbeat file as
 * older descriptors did, so a probe that followed paths from the content
 * would read that one: the probe must not need it, nor follow another.
 */
function descriptor(command: string, pid: number, extra: Record<string, unknown> = {}, dir?: string): string {
  return JSON.stringify({
    ...(dir ? { heartbeat: heartbeatOf(dir, command) } : {}),
    format: 1,
    app: 'app',
    command,
    transport: 'ctl',
    pid,
    entry: realpathSync(SAMPLE),
    startedAt: new Date().toISOString(),
    ...extra,
  });
}

function heartbeat(pid: number): string {
  const pass = { status: 'pass' };
  return JSON.stringify({
    format: 1,
    pid,
    at: Date.now(),
    staleAfterMs: 60_000,
    probes: { startup: pass, liveness: pass, readiness: pass },
  });
}

function expectFailure(run: ProbeRun, line: string | RegExp): void {
  if (typeof line === 'string') expect(run.line).to.equal(line);
  else expect(run.line).to.match(line);
  expect(run.code, run.stdout + run.stderr).to.equal(1);
  expect(run.stderr).to.equal('');
  expect(stackLines(run.stdout + run.stderr)).to.deep.equal([]);
}

describe('the exec probe against planted runtime files', () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
    removeSharedTmps();
  });

  const why = skipReason();
  it(`ignores a descriptor another user planted in a dionysus-* directory of the shared temp dir${why ? ` (skipped: ${why})` : ''}`, async function () {
    if (why) this.skip();
    const tmp = sharedTmp();
    const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: undefined };
    // The default directory, where the probe looks without flags.
    const own = join(tmp, `dionysus-${process.geteuid?.()}-app`);
    const { pid } = await startCtl({ dir: own, env: { ...env, DIONYSUS_RUNTIME_DIR: undefined } });
    const planted = descriptor('ctl', 1);
    const names = ['dionysus-evil', `dionysus-${process.geteuid?.()}-evil`];
    for (const name of names) {
      attacker().run(`mkdir -m 755 ${tmp}/${name} && printf '%s' '${planted}' > ${tmp}/${name}/ctl.descriptor.json`);
    }
    const run = await probe(undefined, ['readiness'], env);
    expect([run.code, run.line], `pid ${pid}`).to.deep.equal([0, 'readiness ok']);
  });

  it(`refuses a descriptor owned by another user in its own directory${why ? ` (skipped: ${why})` : ''}`, async function () {
    if (why) this.skip();
    const dir = runtimeDir();
    const path = descriptorOf(dir);
    writeFileSync(path, descriptor('ctl', process.pid, {}, dir));
    writeFileSync(heartbeatOf(dir), heartbeat(process.pid));
    chownSync(path, attacker().uid, attacker().gid);
    expectFailure(
      await probe(dir, ['readiness']),
      `readiness failed: no running command found in ${dir} (${path} is owned by uid ${attacker().uid}, not by this user (uid 0))`,
    );
  });

  it('keeps its --timeout when the descriptor is a FIFO: it refuses it at once instead of blocking in open()', async () => {
    const dir = runtimeDir();
    execFileSync('mkfifo', [descriptorOf(dir)]);
    const started = Date.now();
    const run = await probe(dir, ['readiness', '--timeout', '300']);
    expect(Date.now() - started, 'ms until the probe exited').to.be.below(3_000);
    expectFailure(
      run,
      `readiness failed: no running command found in ${dir} (${descriptorOf(dir)} is not a regular file)`,
    );
  });

  it('refuses a heartbeat that is a FIFO or a symbolic link, and one larger than the size cap', async () => {
    const cases: [string, (path: string) => void, string][] = [
      ['fifo', (path) => execFileSync('mkfifo', [path]), 'is not a regular file'],
      ['link', (path) => execFileSync('ln', ['-s', '/dev/zero', path]), 'is a symbolic link'],
      ['big', (path) => writeFileSync(path, `{"pad":"${'x'.repeat(100_000)}"}`), 'is larger than 65536 bytes'],
    ];
    for (const [what, plant, why] of cases) {
      const dir = runtimeDir();
      writeFileSync(descriptorOf(dir), descriptor('ctl', process.pid, {}, dir));
      plant(heartbeatOf(dir));
      const run = await probe(dir, ['readiness', '--timeout', '500']);
      expectFailure(run, `readiness failed: no heartbeat: ${heartbeatOf(dir)} ${why}`);
      expect(what).to.be.a('string');
    }
  });

  it('never reads a heartbeat path named in the descriptor ("/dev/zero"): it reads its own directory\'s', async () => {
    const dir = runtimeDir();
    writeFileSync(descriptorOf(dir), descriptor('ctl', process.pid, { heartbeat: '/dev/zero' }));
    writeFileSync(heartbeatOf(dir), heartbeat(process.pid));
    const run = await probe(dir, ['readiness']);
    expect([run.code, run.line, run.stderr]).to.deep.equal([0, 'readiness ok', '']);
  });

  it('never writes a control path named in the descriptor with HEALTH_STATUS=close', async () => {
    const dir = runtimeDir();
    const victim = join(runtimeDir(), 'victim-file');
    writeFileSync(victim, 'precious');
    writeFileSync(descriptorOf(dir), descriptor('ctl', process.pid, { control: victim }));
    writeFileSync(heartbeatOf(dir), heartbeat(process.pid));
    const run = await probe(dir, ['readiness'], { HEALTH_STATUS: 'close' });
    expect(readFileSync(victim, 'utf8')).to.equal('precious');
    expectFailure(run, `readiness failed: no control socket ${join(dir, 'ctl.sock')}`);
  });

  it('takes pid 0 or a negative pid for a process that is not running (kill(0) signals a process group)', async () => {
    for (const pid of [0, -1]) {
      const dir = runtimeDir();
      writeFileSync(descriptorOf(dir), descriptor('ctl', pid, {}, dir));
      writeFileSync(heartbeatOf(dir), heartbeat(pid));
      expectFailure(
        await probe(dir, ['readiness']),
        `readiness failed: process ${pid} of command ctl is not running (stale descriptor)`,
      );
    }
  });

  it('refuses a descriptor whose command is not its file name (paths come from the file name only)', async () => {
    const dir = runtimeDir();
    writeFileSync(descriptorOf(dir), descriptor('../../etc/x', process.pid, { heartbeat: heartbeatOf(dir) }));
    writeFileSync(heartbeatOf(dir), heartbeat(process.pid));
    expectFailure(
      await probe(dir, ['readiness']),
      `readiness failed: no running command found in ${dir} (${descriptorOf(dir)} is not a runtime descriptor)`,
    );
  });
});
