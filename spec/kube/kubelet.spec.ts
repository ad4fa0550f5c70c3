import { join } from 'node:path';
import { expect } from 'chai';
import { DIST, SAMPLE } from '../integration/child.js';
import { argv, killPods, nodeScript, type PodSpec, startPod } from './kubelet.js';
import { httpLoad, type Load, Service } from './service.js';

// The sample's checks await a round trip to their dependency, as a real service's do, so its exec probes
// get their answers late (a probe that only worked with instant answers once passed here).
const app = nodeScript(SAMPLE);
const ignoresSigterm = nodeScript(join(DIST, 'spec', 'kube', 'fixtures', 'ignores-sigterm.js'));

// Inside Kubernetes the drain delay defaults to 5 s; short here, and the grace period above the budget.
const NODE_CONFIG = JSON.stringify({ dionysus: { shutdown: { drainDelayMs: 100, timeoutMs: 2_000 } } });

function httpPod(name: string, env: Record<string, string> = {}): PodSpec {
  return {
    name,
    binary: app,
    args: ['http'],
    env: { NODE_CONFIG, ...env },
    startupProbe: { handler: { exec: argv(app, 'startup') }, periodMs: 100, failureThreshold: 50 },
    readinessProbe: { handler: { httpGet: { port: 'http', path: '/healthx/readiness' } }, periodMs: 100 },
    terminationGracePeriodMs: 3_000,
  };
}

// The harness the rolling-restart specs rely on, checked against the behaviour of a kubelet and a Service.
describe('the kubelet-like harness', () => {
  const loads: Load[] = [];
  afterEach(async () => {
    await Promise.all(loads.splice(0).map((load) => load.stop()));
    await killPods();
  });

  it('never routes to a pod whose readiness never passes', async () => {
    const good = startPod(httpPod('good'));
    // The sample's readiness check fails while its dependency is down; startup and liveness do not look at it.
    const unready = startPod(httpPod('unready', { SAMPLE_DEPENDENCY_DOWN: '1' }));
    const service = new Service();
    service.add(good);
    service.add(unready);
    await good.waitUntilReady();
    await unready.waitForProbes('readiness', 3);
    const load = httpLoad(service, { concurrency: 2 }).start();
    loads.push(load);
    await unready.waitForProbes('readiness', 8);
    const report = await load.stop();

    expect(unready.started, unready.describe()).to.equal(true);
    const readiness = unready.results.filter((r) => r.probe === 'readiness');
    expect(
      readiness.every((r) => !r.ok && r.detail === 'HTTP 503'),
      unready.describe(),
    ).to.equal(true);
    expect(unready.ready).to.equal(false);
    expect(report.failures, JSON.stringify(report.reasons)).to.equal(0);
    expect(report.byPod).to.have.keys('good');
    expect(report.successes).to.be.above(20);
    // The pod's own access log agrees: no request ever reached it.
    expect(unready.stdout).to.not.include('/hello');
  });

  it('SIGKILLs a pod that ignores SIGTERM once its grace period is over', async () => {
    const GRACE_MS = 400;
    const pod = startPod({ name: 'stubborn', binary: ignoresSigterm, args: [], terminationGracePeriodMs: GRACE_MS });
    await pod.waitForLine('started');
    // No readiness probe: Ready as soon as it runs, as the kubelet has it.
    expect(pod.ready).to.equal(true);
    const exit = await pod.terminate();

    expect(pod.stdout).to.include('SIGTERM ignored');
    expect(exit).to.include({ code: null, signal: 'SIGKILL', killed: true });
    expect(exit.afterTerminationMs).to.be.within(GRACE_MS, GRACE_MS + 1_000);
  });

  it('kills and reports a pod whose startup probe reaches its failure threshold', async () => {
    const pod = startPod({
      ...httpPod('never-starts'),
      startupProbe: {
        handler: { httpGet: { port: 'http', path: '/no-such-route' } },
        periodMs: 50,
        failureThreshold: 3,
      },
    });
    const notReady = await pod.waitUntilReady(5_000).then(
      () => undefined,
      (error: Error) => error,
    );
    const exit = await pod.exited;

    expect(notReady?.message).to.match(/pod never-starts is not Ready/);
    expect(pod.failure).to.match(/^startup probe failed 3 times in a row: /);
    // Liveness and readiness never ran: they wait for the startup probe.
    expect(pod.results.map((r) => `${r.probe} ${r.ok}`)).to.deep.equal(Array(3).fill('startup false'));
    expect(pod.started).to.equal(false);
    expect(exit.afterTerminationMs, 'it exited because it was terminated').to.not.equal(undefined);
  });

  it('kills a pod whose liveness probe reaches its failure threshold, with its grace period', async () => {
    const pod = startPod({
      ...httpPod('wedged'),
      livenessProbe: { handler: { httpGet: { port: 'http', path: '/no-such-route' } }, periodMs: 50 },
    });
    const exit = await pod.exited;

    expect(pod.failure).to.equal('liveness probe failed 3 times in a row: HTTP 404');
    // A kill by the kubelet is a termination: the app got SIGTERM and stopped cleanly.
    expect(exit).to.include({ code: 0, killed: false });
    expect(exit.afterTerminationMs).to.be.below(3_000);
  });
});
