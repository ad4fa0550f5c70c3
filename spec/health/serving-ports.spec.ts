import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { expect } from 'chai';
import { probe as grpcProbe, removeRuntimeDirs as removeGrpcDirs, startGrpc } from '../grpc/children.js';
import { probe as httpProbe, removeRuntimeDirs as removeHttpDirs, startSample } from '../http/sample-process.js';
import { killChildren, node, SAMPLE } from '../integration/child.js';
import { waitForLog, withoutShellConfig } from '../telemetry/log-lines.js';
import { removeRuntimeDirs, runtimeDir } from './probe-children.js';

// The health switches on the serving ports, from peers that look like a
// sidecar proxy (loopback, 127.0.0.6 as Istio uses), and the exec probes of
// servers bound to a specific address.

/** POST /healthx/readiness/close from a loopback address, as a sidecar proxy forwards; resolves with the status. */
function httpCloseFrom(localAddress: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/healthx/readiness/close', localAddress },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** HealthControl/SetSwitch({ probe: readiness, open: false }) over a connection from 127.0.0.6; resolves with grpc-status. */
function grpcCloseFrom127006(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`http://127.0.0.1:${port}`, {
      createConnection: () => netConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.6' }),
    });
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/dionysus.health.v1.HealthControl/SetSwitch',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status: number | undefined;
    const read = (headers: Record<string, unknown>): void => {
      if (headers['grpc-status'] !== undefined) status = Number(headers['grpc-status']);
    };
    stream.on('response', read);
    stream.on('trailers', read);
    stream.resume();
    stream.on('end', () => {
      session.close();
      resolve(status ?? -1);
    });
    stream.on('error', reject);
    const message = Buffer.concat([Buffer.from([0x0a, 9]), Buffer.from('readiness')]);
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(message.length, 1);
    stream.end(Buffer.concat([frame, message]));
  });
}

describe('health switches on the serving ports behind a sidecar proxy', () => {
  afterEach(async () => {
    await killChildren();
    removeGrpcDirs();
    removeHttpDirs();
  });

  it('refuses POST /healthx/readiness/close from 127.0.0.1 and 127.0.0.6 (a sidecar) without the control token', async () => {
    const { dir, port } = await startSample();
    expect(await httpCloseFrom('127.0.0.6', port), 'from 127.0.0.6').to.equal(403);
    expect(await httpCloseFrom('127.0.0.1', port), 'from 127.0.0.1').to.equal(403);
    expect((await httpProbe(dir, 'readiness')).line).to.equal('readiness ok');
  });

  it('refuses HealthControl/SetSwitch from 127.0.0.6 with PERMISSION_DENIED, even with loopback trusted', async () => {
    for (const trust of [false, true]) {
      const config = JSON.stringify({ dionysus: { health: { trustLoopback: trust } } });
      const { dir, address } = await startGrpc({ NODE_CONFIG: config });
      const port = Number(address.split(':')[1]);
      expect(await grpcCloseFrom127006(port), `trustLoopback ${trust}`).to.equal(7);
      expect((await grpcProbe(dir, ['readiness'])).line).to.equal('readiness ok');
    }
  });

  it('tells a stranger at GET /healthx/readiness which check fails, not its error message; the exec probe still says why', async () => {
    const { dir, port } = await startSample({ env: { SAMPLE_DEPENDENCY_DOWN: '1' } });
    const res = await fetch(`http://127.0.0.1:${port}/healthx/readiness`);
    const text = await res.text();
    expect(res.status).to.equal(503);
    expect(text).to.not.include('dependency unreachable');
    expect(JSON.parse(text)).to.include({ reason: 'check dependency failed' });
    expect((await httpProbe(dir, 'readiness')).line).to.equal(
      'readiness failed: check dependency failed: dependency unreachable',
    );
  });
});

describe('exec probes of servers bound to a specific address', () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
  });

  for (const kind of ['http', 'grpc'] as const) {
    it(`pass against a ${kind} server bound to ::1: the probe dials the address the descriptor records`, async () => {
      const dir = runtimeDir();
      const child = node(SAMPLE, [kind], {
        env: {
          ...withoutShellConfig(),
          DIONYSUS_RUNTIME_DIR: dir,
          HTTP_PORT: '0',
          GRPC_PORT: '0',
          ADMIN_PORT: '0',
          NODE_CONFIG: JSON.stringify({ dionysus: { [kind]: { host: '::1' } } }),
        },
      });
      await waitForLog(child, (line) => line.msg === 'state running', `the ${kind} command to run`);
      const run = await grpcProbe(dir, ['readiness']);
      expect([run.code, run.line, run.stderr]).to.deep.equal([0, 'readiness ok', '']);
    });
  }
});
