import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { killChildren } from '../integration/child.js';
import { closedPort } from '../support/ports.js';
import { probe, removeRuntimeDirs, runtimeDir, startGrpc } from './children.js';
import { check, clientsFor, closeClients } from './clients.js';

// `app startup|liveness|readiness` as separate processes against the
// sample's grpc command running as a child: they find it through the
// runtime dir and ask grpc.health.v1.Health/Check over loopback.

describe('exec probes against a grpc command (real processes)', () => {
  afterEach(async () => {
    closeClients();
    await killChildren();
    removeRuntimeDirs();
  });

  it('pass for startup, liveness and readiness while it runs, and fail once it exited', async () => {
    const { child, dir } = await startGrpc();
    const runs = await Promise.all(['startup', 'liveness', 'readiness'].map((name) => probe(dir, [name])));
    expect(runs.map(({ code, line, stderr }) => ({ code, line, stderr }))).to.deep.equal([
      { code: 0, line: 'startup ok', stderr: '' },
      { code: 0, line: 'liveness ok', stderr: '' },
      { code: 0, line: 'readiness ok', stderr: '' },
    ]);
    child.signal('SIGTERM');
    expect((await child.waitForExit()).code).to.equal(0);
    const after = await probe(dir, ['readiness']);
    expect(after.code, after.line).to.equal(1);
    expect(after.line).to.equal(`readiness failed: no running command found in ${dir}`);
  });

  it('pass readiness while its check awaits a slow dependency', async () => {
    const { dir } = await startGrpc({ SAMPLE_DEPENDENCY_LATENCY_MS: '300' });
    const run = await probe(dir, ['readiness']);
    expect([run.code, run.line]).to.deep.equal([0, 'readiness ok']);
  });

  it('fail readiness (exit 1, naming the failing check and its error) while a readiness check fails; liveness passes', async () => {
    const { dir } = await startGrpc({ SAMPLE_DEPENDENCY_DOWN: '1' });
    const [readiness, liveness] = await Promise.all([probe(dir, ['readiness']), probe(dir, ['liveness'])]);
    expect([readiness.code, readiness.line]).to.deep.equal([
      1,
      'readiness failed: check dependency failed: dependency unreachable',
    ]);
    expect([liveness.code, liveness.line]).to.deep.equal([0, 'liveness ok']);
  });

  it('HEALTH_STATUS=close flips the readiness switch off and HEALTH_STATUS=open back on', async () => {
    const { dir, address } = await startGrpc();
    const closed = await probe(dir, ['readiness'], { HEALTH_STATUS: 'close' });
    expect([closed.code, closed.line]).to.deep.equal([0, 'readiness ok: switch close']);
    expect((await probe(dir, ['readiness'])).code).to.equal(1);
    expect(await check(clientsFor(address).health, 'readiness')).to.equal('NOT_SERVING');

    const opened = await probe(dir, ['readiness'], { HEALTH_STATUS: 'open' });
    expect([opened.code, opened.line]).to.deep.equal([0, 'readiness ok: switch open']);
    expect(await probe(dir, ['readiness'])).to.include({ code: 0, line: 'readiness ok' });
  });

  it('HEALTH_STATUS flips over the local control socket, with no token, even when the server requires one on its port', async () => {
    const { dir, address } = await startGrpc({ DIONYSUS_CONTROL_TOKEN: 's3cret' });
    const flipped = await probe(dir, ['readiness'], { HEALTH_STATUS: 'close' });
    expect([flipped.code, flipped.line]).to.deep.equal([0, 'readiness ok: switch close']);
    expect(await check(clientsFor(address).health, 'readiness')).to.equal('NOT_SERVING');
    expect(await probe(dir, ['readiness'])).to.include({ code: 1 });
  });

  it('says that nothing listens when the port is closed (a draining server) instead of an http2 error', async () => {
    const port = await closedPort();
    const dir = runtimeDir();
    // A live process (this one) whose descriptor names a port nobody listens on.
    const descriptor = { format: 1, app: 'app', command: 'grpc', transport: 'grpc', pid: process.pid, entry: 'x' };
    writeFileSync(join(dir, 'grpc.descriptor.json'), JSON.stringify({ ...descriptor, grpc: { port } }));
    const run = await probe(dir, ['readiness']);
    expect([run.code, run.line]).to.deep.equal([1, `readiness failed: nothing listens on 127.0.0.1:${port}`]);
  });
});
