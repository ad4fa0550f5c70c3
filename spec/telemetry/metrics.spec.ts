import { request } from 'node:http';
import { connect } from 'node:net';
import { expect } from 'chai';
import { type Child, fixture, killChildren, node, SAMPLE } from '../integration/child.js';
import { parseExposition, samplesOf } from './exposition.js';
import { type LogLine, waitForLog, withoutShellConfig } from './log-lines.js';

interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function call(port: number, method: string, path: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

/** Resolves with the error code of a TCP connect to the port (e.g. ECONNREFUSED), or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** `<app> ctl` with its admin server on an ephemeral loopback port, once it is running; the port read from its log. */
async function startWorker(app = SAMPLE): Promise<{ child: Child; port: number }> {
  const child = node(app, ['ctl'], {
    env: {
      ...withoutShellConfig(),
      ADMIN_PORT: '0',
      NODE_CONFIG: JSON.stringify({ dionysus: { admin: { host: '127.0.0.1' } } }),
    },
  });
  const listening = await waitForLog(
    child,
    (line) => line.msg.startsWith('admin server listening on '),
    'the admin server log line',
  );
  const admin = listening.admin as { host: string; port: number };
  expect(admin.host).to.equal('127.0.0.1');
  expect(admin.port).to.be.a('number').and.above(0);
  await waitForLog(child, (line: LogLine) => line.state === 'running', 'the state running log line');
  return { child, port: admin.port };
}

const FAMILIES = {
  process_cpu_seconds_total: 'counter',
  nodejs_eventloop_lag_seconds: 'gauge',
  dionysus_lifecycle_hook_duration_seconds: 'histogram',
  dionysus_lifecycle_state: 'gauge',
  http_server_request_duration_seconds: 'histogram',
  grpc_server_handled_total: 'counter',
  grpc_server_handling_seconds: 'histogram',
  dionysus_health_check_duration_seconds: 'histogram',
};

describe('metrics: GET /metrics on the admin server of a long-running command', () => {
  afterEach(killChildren);

  it('serves valid Prometheus text with the default, lifecycle, HTTP, gRPC and health families', async () => {
    const { port } = await startWorker();
    const response = await call(port, 'GET', '/metrics');
    expect(response.status).to.equal(200);
    expect(response.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    const families = parseExposition(response.body);
    for (const [name, type] of Object.entries(FAMILIES)) {
      expect(families.get(name)?.type, name).to.equal(type);
      expect(families.get(name)?.help, name).to.not.equal('');
    }
    // Prometheus conventions: counters end in _total, the framework's durations are in seconds.
    for (const family of families.values()) {
      if (family.type === 'counter') expect(family.name).to.match(/_total$/);
      if (/^(dionysus|http|grpc)_/.test(family.name) && family.type === 'histogram') {
        expect(family.name).to.match(/_seconds$/);
      }
    }
    // Every sample carries the app and command as labels.
    for (const family of families.values()) {
      for (const sample of family.samples)
        expect(sample.labels, sample.name).to.include({ app: 'app', command: 'ctl' });
    }
  });

  it('has values for the lifecycle metrics: the current state and each hook that ran', async () => {
    const { port } = await startWorker();
    const families = parseExposition((await call(port, 'GET', '/metrics')).body);
    const states = samplesOf(families, 'dionysus_lifecycle_state');
    expect(Object.fromEntries(states.map((s) => [s.labels.state, s.value]))).to.deep.equal({
      idle: 0,
      starting: 0,
      running: 1,
      stopping: 0,
      stopped: 0,
    });
    const hook = { phase: 'prerun', hook: 'App.openResources', outcome: 'ok' };
    const [count] = samplesOf(families, 'dionysus_lifecycle_hook_duration_seconds_count', hook);
    const [sum] = samplesOf(families, 'dionysus_lifecycle_hook_duration_seconds_sum', hook);
    const [inf] = samplesOf(families, 'dionysus_lifecycle_hook_duration_seconds_bucket', { ...hook, le: '+Inf' });
    expect(count?.value).to.be.at.least(1);
    expect(inf?.value).to.equal(count?.value);
    expect(sum?.value).to.be.at.least(0);
    // The framework's own steps are timed too, also those that ran before the metrics step.
    for (const step of ['framework.logger', 'framework.config', 'framework.tracing', 'framework.metrics']) {
      const samples = samplesOf(families, 'dionysus_lifecycle_hook_duration_seconds_count', { hook: step });
      expect(
        samples.map((s) => [s.labels.phase, s.value]),
        step,
      ).to.deep.equal([['framework', 1]]);
    }
    expect(samplesOf(families, 'process_cpu_seconds_total')[0]?.value).to.be.above(0);
  });

  it("serves the metrics a user's class registers on the injected prom-client Registry", async () => {
    const { child, port } = await startWorker(fixture('user-metrics'));
    await child.waitForLine('counted');
    const families = parseExposition((await call(port, 'GET', '/metrics')).body);
    expect(families.get('orders_processed_total')).to.include({ type: 'counter', help: 'Orders processed, by queue.' });
    expect(samplesOf(families, 'orders_processed_total')).to.deep.equal([
      { name: 'orders_processed_total', labels: { queue: 'eu', app: 'orders', command: 'ctl' }, value: 3 },
    ]);
    // Next to the framework's own families, in the same registry.
    expect(families.has('dionysus_lifecycle_state')).to.equal(true);
  });

  it('answers 404 for any other path and 405 for another method', async () => {
    const { port } = await startWorker();
    expect((await call(port, 'GET', '/')).status).to.equal(404);
    expect((await call(port, 'GET', '/metricsx')).status).to.equal(404);
    expect((await call(port, 'GET', '/metrics?name[]=x')).status).to.equal(200);
    const post = await call(port, 'POST', '/metrics');
    expect(post.status).to.equal(405);
    expect(post.headers.allow).to.equal('GET, HEAD');
    const head = await call(port, 'HEAD', '/metrics');
    expect(head.status).to.equal(200);
    expect(head.body).to.equal('');
  });

  it('stops with the command: SIGTERM exits 0 and the port is closed', async () => {
    const { child, port } = await startWorker();
    expect(await tryConnect(port)).to.equal('connected');
    child.signal('SIGTERM');
    const exit = await child.waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    expect(await tryConnect(port)).to.equal('ECONNREFUSED');
  });
});
