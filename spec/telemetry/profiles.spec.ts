import { expect } from 'chai';
import { Registry } from 'prom-client';
import { AdminServer } from '../../lib/telemetry/admin.js';
import type { ProfileOptions } from '../../lib/telemetry/profiles.js';
import { killChildren, node, SAMPLE } from '../integration/child.js';
import { type LogLine, waitForLog, withoutShellConfig } from './log-lines.js';

const TOKEN = 'profile-token-1234';
const auth = { authorization: `Bearer ${TOKEN}` };

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string } }[];
  startTime: number;
  endTime: number;
  samples: number[];
}

describe('profiles on demand from a running service', () => {
  after(killChildren);

  it('takes a 1 s CPU profile of the running reference app that loads as a .cpuprofile, behind the control token', async () => {
    const child = node(SAMPLE, ['http'], {
      env: {
        ...withoutShellConfig(),
        HTTP_PORT: '0',
        ADMIN_PORT: '0',
        DIONYSUS_CONTROL_TOKEN: TOKEN,
        NODE_CONFIG: JSON.stringify({ dionysus: { admin: { host: '127.0.0.1' } } }),
      },
    });
    const listening = await waitForLog(child, (l) => l.msg.startsWith('admin server listening on '), 'the admin line');
    const base = `http://127.0.0.1:${(listening.admin as { port: number }).port}`;
    await waitForLog(child, (l: LogLine) => l.state === 'running', 'the running state');

    const anonymous = await fetch(`${base}/debug/profile?seconds=1`);
    expect(anonymous.status, 'without the token').to.equal(401);
    expect(anonymous.headers.get('www-authenticate')).to.equal('Bearer');
    const wrong = await fetch(`${base}/debug/profile?seconds=1`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status, 'with another token').to.equal(401);

    const taking = fetch(`${base}/debug/profile?seconds=1`, { headers: auth });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await fetch(`${base}/debug/runtime?seconds=1`, { headers: auth });
    expect(second.status, 'a second profile while one runs').to.equal(409);
    expect(await second.text()).to.match(/a cpu profile is already being taken/);

    const res = await taking;
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-disposition')).to.match(/^attachment; filename="app-\d+-.+\.cpuprofile"$/);
    const profile = (await res.json()) as CpuProfile;
    expect(profile.nodes.length).to.be.above(1);
    expect(profile.nodes[0]?.callFrame.functionName).to.equal('(root)');
    // Microseconds: the profile covers the second asked for.
    expect(profile.endTime - profile.startTime).to.be.within(900_000, 5_000_000);
    expect(profile.samples.length).to.be.above(0);

    const logged = await waitForLog(child, (l) => l.msg === 'cpu profile taken', 'the profile log line');
    expect(logged.profile).to.include({ kind: 'cpu profile', seconds: 1 });
    child.signal('SIGTERM');
    expect((await child.waitForExit()).code).to.equal(0);
  });
});

describe('the admin server profile routes', () => {
  let admin: AdminServer | undefined;
  const logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  afterEach(async () => {
    await admin?.close();
    admin = undefined;
    logs.length = 0;
  });

  async function serve(overrides: Partial<ProfileOptions> = {}): Promise<string> {
    admin = new AdminServer(new Registry(), {
      profiles: {
        controlToken: TOKEN,
        maxSeconds: 5,
        maxHeapBytes: 1024 ** 3,
        app: 'spec',
        stopping: () => false,
        log: (level, fields, message) => logs.push({ level, message, fields }),
        ...overrides,
      },
    });
    await admin.listen(0, '127.0.0.1');
    return `http://127.0.0.1:${admin.port}`;
  }

  it('serves no profile at all when no control token is configured', async () => {
    const base = await serve({ controlToken: '' });
    const res = await fetch(`${base}/debug/heapsnapshot`, { headers: auth });
    expect(res.status).to.equal(403);
    expect(await res.text()).to.match(/set DIONYSUS_CONTROL_TOKEN/);
  });

  it('refuses a duration out of bounds, naming the limit and its setting', async () => {
    const base = await serve();
    for (const seconds of ['0', '6', 'abc', '1.5']) {
      const res = await fetch(`${base}/debug/profile?seconds=${seconds}`, { headers: auth });
      expect(res.status, seconds).to.equal(400);
      expect(await res.text()).to.include('from 1 to 5 (dionysus.admin.profiles.maxSeconds)');
    }
  });

  it('refuses every profile once the process is stopping', async () => {
    const base = await serve({ stopping: () => true });
    const res = await fetch(`${base}/debug/runtime?seconds=1`, { headers: auth });
    expect(res.status).to.equal(503);
  });

  it('streams a heap snapshot DevTools can load, and refuses one when the heap is over the limit', async () => {
    const base = await serve();
    const res = await fetch(`${base}/debug/heapsnapshot`, { headers: auth });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-disposition')).to.match(/\.heapsnapshot"$/);
    const snapshot = (await res.json()) as { snapshot: { meta: { node_fields: string[] }; node_count: number } };
    expect(snapshot.snapshot.meta.node_fields).to.include('name');
    expect(snapshot.snapshot.node_count).to.be.above(1000);
    expect(logs.map((l) => l.message)).to.deep.equal(['heap snapshot started', 'heap snapshot taken']);
    await admin?.close();

    const small = await serve({ maxHeapBytes: 1024 });
    const refused = await fetch(`${small}/debug/heapsnapshot`, { headers: auth });
    expect(refused.status).to.equal(413);
    expect(await refused.text()).to.include('dionysus.admin.profiles.maxHeapBytes (1024)');
  });

  it('reports event-loop delay, utilisation and the active handles over the window asked for', async () => {
    const base = await serve();
    // Block the event loop for ~60 ms inside the window: the report's max delay must show it.
    setTimeout(() => {
      const end = Date.now() + 60;
      while (Date.now() < end);
    }, 300);
    const res = await fetch(`${base}/debug/runtime?seconds=1`, { headers: auth });
    expect(res.status).to.equal(200);
    const report = (await res.json()) as {
      seconds: number;
      eventLoopDelayMs: { max: number; p50: number };
      eventLoopUtilization: number;
      activeResources: Record<string, number>;
      memory: { heapUsed: number };
    };
    expect(report.seconds).to.equal(1);
    expect(report.eventLoopDelayMs.max).to.be.at.least(50);
    expect(report.eventLoopUtilization).to.be.within(0, 1);
    expect(report.activeResources.TCPServerWrap, 'the admin server itself').to.be.at.least(1);
    expect(report.memory.heapUsed).to.be.above(0);
  });

  it('ends a profile in progress when the server closes, so a stop is never held up by it', async () => {
    const base = await serve();
    const pending = fetch(`${base}/debug/profile?seconds=5`, { headers: auth }).then(
      (res) => res.status,
      () => 'closed',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    await admin?.close();
    admin = undefined;
    expect(await pending).to.be.oneOf([200, 'closed']);
    expect(performance.now() - started).to.be.below(2_000);
  });
});
