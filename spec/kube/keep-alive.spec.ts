import { Agent, request } from 'node:http';
import { expect } from 'chai';
import { SAMPLE } from '../integration/child.js';
import { argv, killPods, nodeScript, startPod } from './kubelet.js';
import { type ClusterIp, Service } from './service.js';

const app = nodeScript(SAMPLE);
const DRAIN_DELAY_MS = 1_000;

// kube-proxy balances connections, not requests: a keep-alive client keeps talking to a terminating pod
// on the connection it already has. Without being told to close it, the client is still using it when the
// drain closes it, and a request written at that moment fails with ECONNRESET.
describe('keep-alive connections through a ClusterIP', () => {
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await killPods();
  });

  it('are told to close during the drain delay, before the server stops accepting', async () => {
    const pod = startPod({
      name: 'keep-alive',
      binary: app,
      args: ['http'],
      env: { NODE_CONFIG: JSON.stringify({ dionysus: { shutdown: { drainDelayMs: DRAIN_DELAY_MS } } }) },
      startupProbe: { handler: { exec: argv(app, 'startup') }, periodMs: 100, failureThreshold: 50 },
      terminationGracePeriodMs: 5_000,
    });
    const service = new Service();
    service.add(pod);
    await pod.waitUntilReady();
    const ip = await service.clusterIp('http');
    const agent = new Agent({ keepAlive: true });
    closers.push(
      () => ip.close(),
      () => agent.destroy(),
    );
    expect((await get(ip, agent)).connection).to.equal('keep-alive');

    const terminated = performance.now();
    const exited = pod.terminate();
    const answers: { status: number | string; connection: string | undefined; atMs: number }[] = [];
    const done = (): boolean => answers.at(-1)?.connection === 'close' || answers.at(-1)?.status !== 200;
    while (!(answers.length > 0 && done()) && performance.now() - terminated < DRAIN_DELAY_MS * 2) {
      answers.push({ ...(await get(ip, agent)), atMs: performance.now() - terminated });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const last = answers.at(-1);
    expect(answers.every((a) => a.status === 200, JSON.stringify(answers))).to.equal(true);
    expect(last?.connection, JSON.stringify(answers)).to.equal('close');
    expect(last?.atMs, 'told to close while the pod still serves').to.be.below(DRAIN_DELAY_MS);
    // Every request went over the one connection the client opened before the termination.
    expect(ip.connections).to.deep.equal({ 'keep-alive': 1 });
    expect((await exited).code).to.equal(0);
  });
});

/** One GET over the agent's pooled connection; a failed request is an answer too (its error code). */
function get(ip: ClusterIp, agent: Agent): Promise<{ status: number | string; connection: string | undefined }> {
  const [host, port] = ip.address.split(':') as [string, string];
  return new Promise((resolve) => {
    request({ host, port, path: '/hello', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    })
      .on('error', (error: NodeJS.ErrnoException) =>
        resolve({ status: error.code ?? error.message, connection: undefined }),
      )
      .end();
  });
}
