import { expect } from 'chai';
import { killChildren } from '../integration/child.js';
import { probe, removeRuntimeDirs, sleep, startSample } from './sample-process.js';

// `app startup|liveness|readiness` as separate processes, against the running sample's /healthx.
describe('exec probes against an http command', () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
  });

  it('passes startup, liveness and readiness while it runs: exit 0 and "<probe> ok"', async () => {
    const { dir } = await startSample();
    const runs = await Promise.all([probe(dir, 'startup'), probe(dir, 'liveness'), probe(dir, 'readiness')]);
    expect(runs.map((r) => [r.code, r.line])).to.deep.equal([
      [0, 'startup ok'],
      [0, 'liveness ok'],
      [0, 'readiness ok'],
    ]);
  });

  it('passes readiness while its check awaits a slow dependency (the probe keeps its socket open for the answer)', async () => {
    // A real check takes a round trip; a half-closed request socket made the server drop the late answer.
    const { dir } = await startSample({ env: { SAMPLE_DEPENDENCY_LATENCY_MS: '300' } });
    const runs = await Promise.all([probe(dir, 'readiness'), probe(dir, 'readiness')]);
    expect(runs.map((r) => [r.code, r.line])).to.deep.equal([
      [0, 'readiness ok'],
      [0, 'readiness ok'],
    ]);
  });

  it("fails readiness naming the 'dependency' check while it is down; liveness and startup still pass", async () => {
    const { dir } = await startSample({ env: { SAMPLE_DEPENDENCY_DOWN: '1' } });
    const [readiness, liveness, startup] = await Promise.all([
      probe(dir, 'readiness'),
      probe(dir, 'liveness'),
      probe(dir, 'startup'),
    ]);
    expect(readiness.code).to.equal(1);
    expect(readiness.line).to.equal('readiness failed: check dependency failed: dependency unreachable');
    expect([liveness.code, startup.code]).to.deep.equal([0, 0]);
  });

  it('closes readiness with HEALTH_STATUS=close and reopens it with HEALTH_STATUS=open', async () => {
    const { dir } = await startSample();
    const close = await probe(dir, 'readiness', { HEALTH_STATUS: 'close' });
    expect([close.code, close.line]).to.deep.equal([0, 'readiness ok: switch close']);
    const closed = await probe(dir, 'readiness');
    expect([closed.code, closed.line]).to.deep.equal([1, 'readiness failed: readiness is switched closed']);
    expect((await probe(dir, 'liveness')).code, 'liveness keeps its own switch').to.equal(0);

    const open = await probe(dir, 'readiness', { HEALTH_STATUS: 'open' });
    expect([open.code, open.line]).to.deep.equal([0, 'readiness ok: switch open']);
    expect((await probe(dir, 'readiness')).code).to.equal(0);
  });

  it('flips with HEALTH_STATUS over the local control socket without a token, while the port requires one', async () => {
    const { dir, port } = await startSample({ env: { DIONYSUS_CONTROL_TOKEN: 'probe-token' } });
    const refused = await fetch(`http://127.0.0.1:${port}/healthx/readiness/close`, { method: 'POST' });
    expect(refused.status, 'the port without the token').to.equal(403);
    const close = await probe(dir, 'readiness', { HEALTH_STATUS: 'close' });
    expect([close.code, close.line]).to.deep.equal([0, 'readiness ok: switch close']);
    expect((await probe(dir, 'readiness')).line).to.equal('readiness failed: readiness is switched closed');
  });

  it('fails readiness during the drain after SIGTERM, and every probe once the process has exited', async () => {
    const { child, dir } = await startSample({ dionysus: { shutdown: { drainDelayMs: 1_000 } } });
    child.signal('SIGTERM');
    await sleep(50);
    const [readiness, liveness] = await Promise.all([probe(dir, 'readiness'), probe(dir, 'liveness')]);
    expect([readiness.code, readiness.line]).to.deep.equal([1, 'readiness failed: the command is shutting down']);
    expect(liveness.code, 'alive while it drains').to.equal(0);

    expect((await child.waitForExit(5_000)).code).to.equal(0);
    const after = await Promise.all([probe(dir, 'startup'), probe(dir, 'liveness'), probe(dir, 'readiness')]);
    for (const run of after) {
      expect(run.code, run.line).to.equal(1);
      expect(run.line).to.match(/^(startup|liveness|readiness) failed: no running command found in /);
    }
  });
});
