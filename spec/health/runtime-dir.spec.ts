import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { writeJsonAtomic } from '../../lib/health/runtime-files.js';
import { runtimeRoot } from '../../lib/probe/files.js';
import { killChildren, node, SAMPLE } from '../integration/child.js';
import { attacker, removeSharedTmps, sharedTmp, skipReason } from '../support/attacker.js';
import {
  descriptorOf,
  eventually,
  HEARTBEAT_MS,
  heartbeatOf,
  probe,
  probeUntil,
  readRuntimeFile,
  removeRuntimeDirs,
  runtimeDir,
  startCtl,
} from './probe-children.js';

// The runtime directory on a shared host: another local user must not be
// able to plant files in it, and two instances must not clobber each other.

/** `app ctl` with the environment given (no runtime dir unless it says so); resolves with its exit. */
function ctlExit(env: Record<string, string | undefined>, timeoutMs = 10_000) {
  return node(SAMPLE, ['ctl'], {
    env: {
      DIONYSUS_RUNTIME_DIR: undefined,
      XDG_RUNTIME_DIR: undefined,
      HEALTH_STATUS: undefined,
      ADMIN_PORT: '0',
      ...env,
    },
  }).waitForExit(timeoutMs);
}

describe('the runtime directory on a host shared with another user', () => {
  const why = skipReason();
  before(function () {
    if (why) this.skip();
  });
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
    removeSharedTmps();
  });

  it(`refuses a runtime directory another user created first (mode 777), naming it and the fix${why ? ` (skipped: ${why})` : ''}`, async () => {
    const tmp = sharedTmp();
    const dir = join(tmp, 'planted');
    attacker().run(`mkdir -m 777 ${dir}`);
    const exit = await ctlExit({ DIONYSUS_RUNTIME_DIR: dir });
    expect(exit.code, exit.stdout + exit.stderr).to.equal(1);
    expect(exit.stderr).to.include(`runtime directory ${dir} is owned by uid ${attacker().uid}, not by this user`);
    expect(exit.stderr).to.include('DIONYSUS_RUNTIME_DIR');
    expect(readdirSync(dir), 'nothing written into it').to.deep.equal([]);
  });

  it('refuses a runtime directory of its own that is writable by others, and one that is a symbolic link', async () => {
    const tmp = sharedTmp();
    const open = join(tmp, 'open');
    mkdirSync(open, { mode: 0o700 });
    execFileSync('chmod', ['777', open]);
    const link = join(tmp, 'link');
    symlinkSync(runtimeDir(), link);
    const [writable, linked] = await Promise.all([
      ctlExit({ DIONYSUS_RUNTIME_DIR: open }),
      ctlExit({ DIONYSUS_RUNTIME_DIR: link }),
    ]);
    expect(writable.code).to.equal(1);
    expect(writable.stderr).to.include(`runtime directory ${open} is writable by group or others (mode 777)`);
    expect(linked.code).to.equal(1);
    expect(linked.stderr).to.include(`runtime directory ${link} is a symbolic link`);
  });

  it('does not wedge on a FIFO planted in a directory another user made: it refuses the directory, and SIGTERM stops it', async () => {
    const tmp = sharedTmp();
    const dir = join(tmp, 'fifo');
    attacker().run(`mkdir -m 777 ${dir} && mkfifo -m 666 ${dir}/ctl.control.json`);
    const child = node(SAMPLE, ['ctl'], { env: { DIONYSUS_RUNTIME_DIR: dir, ADMIN_PORT: '0' } });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    child.signal('SIGTERM');
    const exit = await child.waitForExit(5_000);
    expect(exit.code, exit.stdout + exit.stderr).to.equal(1);
    expect(exit.stderr).to.include(`runtime directory ${dir} is owned by uid`);
  });

  it('uses a per-user default directory: one another user created under the old shared name is never used', async () => {
    const tmp = sharedTmp();
    // What the attacker can guess: the app's name, with and without this user's uid.
    attacker().run(`mkdir -m 777 ${tmp}/dionysus-app`);
    const child = node(SAMPLE, ['ctl'], {
      env: { TMPDIR: tmp, DIONYSUS_RUNTIME_DIR: undefined, XDG_RUNTIME_DIR: undefined, ADMIN_PORT: '0' },
    });
    const own = join(tmp, `dionysus-${process.geteuid?.()}-app`);
    await eventually(() => existsSync(descriptorOf(own)), 'the descriptor in the per-user directory', 5_000);
    expect(readdirSync(join(tmp, 'dionysus-app')), 'the planted directory').to.deep.equal([]);
    const run = await probeUntil(own, ['readiness'], (r) => r.code === 0, {
      env: { TMPDIR: tmp, DIONYSUS_RUNTIME_DIR: undefined },
    });
    expect(run.line).to.equal('readiness ok');
    // The default search finds it too, without a flag.
    const found = await probe(undefined, ['readiness'], { TMPDIR: tmp, XDG_RUNTIME_DIR: undefined });
    expect(found.line).to.equal('readiness ok');
    child.signal('SIGTERM');
    expect((await child.waitForExit()).code).to.equal(0);
  });
});

describe('the default runtime root', () => {
  // The probe works out the temporary directory itself instead of loading node:os: it must agree with os.tmpdir().
  it('is the temporary directory os.tmpdir() names, for every TMPDIR, TMP and TEMP a host may set', () => {
    const saved = { TMPDIR: process.env.TMPDIR, TMP: process.env.TMP, TEMP: process.env.TEMP };
    const cases: Record<string, string | undefined>[] = [
      { TMPDIR: '/var/tmp/x/' },
      { TMPDIR: '/var/tmp/x' },
      { TMPDIR: '', TMP: '/srv/tmp/' },
      { TEMP: '/srv/temp' },
      { TMPDIR: '/' },
      {},
    ];
    try {
      for (const vars of cases) {
        for (const name of ['TMPDIR', 'TMP', 'TEMP'] as const) {
          const value = vars[name];
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        const env = { ...process.env, XDG_RUNTIME_DIR: undefined };
        expect(runtimeRoot(env).base, JSON.stringify(vars)).to.equal(tmpdir());
      }
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('runtime files are written without following symbolic links', () => {
  afterEach(removeRuntimeDirs);

  it('replaces a symbolic link planted at the temporary name instead of writing through it', () => {
    const dir = runtimeDir();
    const victim = join(runtimeDir(), 'precious');
    writeFileSync(victim, 'keep me');
    const path = join(dir, 'ctl.heartbeat.json');
    symlinkSync(victim, `${path}.${process.pid}.tmp`);
    writeJsonAtomic(path, { ok: 1 });
    expect(readFileSync(victim, 'utf8')).to.equal('keep me');
    expect(JSON.parse(readFileSync(path, 'utf8'))).to.deep.equal({ ok: 1 });
    expect(readdirSync(dir)).to.deep.equal(['ctl.heartbeat.json']);
  });
});

describe('two instances of one command in one runtime directory', () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
  });

  it('refuses to start the second, naming the live pid and the directory; the first keeps its files and probes', async () => {
    const first = await startCtl();
    const before = readFileSync(descriptorOf(first.dir), 'utf8');
    const second = await ctlExit({ DIONYSUS_RUNTIME_DIR: first.dir, ADMIN_PORT: '0' });
    expect(second.code, second.stdout + second.stderr).to.equal(1);
    expect(second.stderr).to.include(
      `command ctl already runs in the runtime directory ${first.dir} (pid ${first.pid})`,
    );
    expect(readFileSync(descriptorOf(first.dir), 'utf8'), 'the first descriptor untouched').to.equal(before);
    expect(readRuntimeFile<{ pid: number }>(heartbeatOf(first.dir))?.pid).to.equal(first.pid);
    const run = await probe(first.dir, ['readiness']);
    expect([run.code, run.line]).to.deep.equal([0, 'readiness ok']);
  });

  it('takes over the files a killed instance left behind', async () => {
    const first = await startCtl();
    first.child.signal('SIGKILL');
    await first.child.waitForExit();
    const second = await startCtl({ dir: first.dir });
    await eventually(
      () => readRuntimeFile<{ pid: number }>(descriptorOf(first.dir))?.pid === second.pid,
      'the second instance to write its descriptor',
    );
    expect((await probe(first.dir, ['readiness'])).line).to.equal('readiness ok');
  });
});

describe('runtime file failures', () => {
  const why = skipReason();
  const mounts: string[] = [];
  before(function () {
    if (why) this.skip(); // mounting a small file system needs root
  });
  afterEach(async () => {
    await killChildren();
    for (const dir of mounts.splice(0)) execFileSync('umount', ['-l', dir]);
    removeRuntimeDirs();
  });

  /** A small tmpfs mounted on a fresh dir (mode 0700, this user's). */
  function smallFs(options: string): string {
    const dir = runtimeDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=256k,mode=0700,${options}`, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  }

  /** Fills a file system until it has no space left. */
  function fill(dir: string): string {
    const filler = join(dir, 'filler');
    execFileSync('sh', ['-c', `dd if=/dev/zero of=${filler} bs=4k 2>/dev/null; true`]);
    return filler;
  }

  it('fails the command before PreRun on a read-only runtime directory (exit 1, naming it and the error)', async () => {
    const dir = smallFs('ro');
    const exit = await ctlExit({ DIONYSUS_RUNTIME_DIR: dir, ADMIN_PORT: '0' });
    expect(exit.code, exit.stdout + exit.stderr).to.equal(1);
    expect(exit.stderr).to.include(dir);
    expect(exit.stderr).to.match(/EROFS|read-only/);
    expect(exit.stdout, 'no PreRun hook ran').to.not.match(/"phase":"prerun"/);
  });

  it('fails the command before PreRun on a full runtime directory, leaving no temporary file', async () => {
    const dir = smallFs('rw');
    fill(dir);
    const exit = await ctlExit({ DIONYSUS_RUNTIME_DIR: dir, ADMIN_PORT: '0' });
    expect(exit.code, exit.stdout + exit.stderr).to.equal(1);
    expect(exit.stderr).to.include(dir);
    expect(exit.stderr).to.include('ENOSPC');
    expect(readdirSync(dir)).to.deep.equal(['filler']);
  });

  it('logs a heartbeat that cannot be written at error, retries every beat, and recovers once space is freed', async () => {
    const dir = smallFs('rw');
    const { child } = await startCtl({ dir });
    const filler = fill(dir);
    await child.waitFor(
      () => /"level":"error"[^\n]*cannot write runtime file [^\n]*ctl\.heartbeat\.json[^\n]*ENOSPC/.test(child.stdout),
      'an error line about the heartbeat',
      10 * HEARTBEAT_MS + 2_000,
    );
    expect(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      'temporary files left',
    ).to.deep.equal([]);
    const stale = await probeUntil(dir, ['liveness'], (r) => r.code === 1, { timeoutMs: 5_000 });
    expect(stale.line).to.match(/^liveness failed: heartbeat is stale/);
    rmSync(filler);
    await child.waitFor(
      () => /runtime file [^\n]*ctl\.heartbeat\.json written again/.test(child.stdout),
      'an info line saying the heartbeat is written again',
    );
    const run = await probeUntil(dir, ['liveness'], (r) => r.code === 0, { timeoutMs: 5_000 });
    expect(run.line).to.equal('liveness ok');
  });
});
