import { expect } from 'chai';
import { SAMPLE } from '../integration/child.js';
import { Deployment } from './deployment.js';
import { argv, type Binary, killPods, nodeScript, type Pod, type PodSpec, type ProbeHandler } from './kubelet.js';
import { type ClusterIp, grpcLoad, httpLoad, type Load, type LoadReport, Service } from './service.js';

// The pods see KUBERNETES_SERVICE_HOST, so the drain delay starts at its in-cluster default of 5 s: time for
// kube-proxy and ingress controllers to drop a terminating pod before it stops accepting. This Service drops it
// at once, so the delay is shortened by config for test speed; the order a cluster sees (readiness fails →
// delay → drain → exit) is unchanged.
const DRAIN_DELAY_MS = 300;
const SHUTDOWN_BUDGET_MS = 5_000;
const NODE_CONFIG = JSON.stringify({
  dionysus: {
    shutdown: { drainDelayMs: DRAIN_DELAY_MS, timeoutMs: SHUTDOWN_BUDGET_MS },
    health: { heartbeatIntervalMs: 200 },
  },
});
/** terminationGracePeriodSeconds: above the app's whole shutdown budget, as the manifest sets it. */
const GRACE_MS = SHUTDOWN_BUDGET_MS + 1_000;
const REPLICAS = 2;
const RESTARTS = 3;

/** The binaries the specs run; the single executable joins with `executable(path)`. */
const BINARIES: readonly { readonly label: string; readonly binary: Binary }[] = [
  { label: 'node dist/samples/app/main.js', binary: nodeScript(SAMPLE) },
];

interface Served {
  readonly command: 'http' | 'grpc';
  /** A native probe for liveness, so every kind of probe handler is exercised. */
  readonly liveness: ProbeHandler;
  readonly load: (target: Service | ClusterIp) => Load;
  readonly unit: string;
}

const SERVED: readonly Served[] = [
  {
    command: 'http',
    liveness: { httpGet: { port: 'http', path: '/healthx/liveness' } },
    load: (target) => httpLoad(target, { concurrency: 3 }),
    unit: 'requests',
  },
  {
    command: 'grpc',
    liveness: { grpc: { port: 'grpc', service: 'liveness' } },
    load: (target) => grpcLoad(target, { concurrency: 3 }),
    unit: 'calls',
  },
];

/** The pod template: the exec probes the manifest points the kubelet at, on short periods. */
function template(binary: Binary, served: Served, name: string): PodSpec {
  return {
    name,
    binary,
    args: [served.command],
    env: { NODE_CONFIG },
    startupProbe: { handler: { exec: argv(binary, 'startup') }, periodMs: 100, failureThreshold: 50 },
    readinessProbe: { handler: { exec: argv(binary, 'readiness') }, periodMs: 150 },
    livenessProbe: { handler: served.liveness, periodMs: 200 },
    terminationGracePeriodMs: GRACE_MS,
  };
}

for (const { label, binary } of BINARIES) {
  describe(`rolling restarts under load (${label})`, () => {
    const running: { stop(): unknown }[] = [];
    afterEach(async () => {
      await Promise.all(running.splice(0).map((r) => r.stop()));
      await killPods();
    });

    for (const served of SERVED) {
      it(`${served.command}: ${RESTARTS} rolling restarts of ${REPLICAS} replicas fail no ${served.unit}, routed per request or per connection`, async function () {
        this.timeout(60_000);
        const service = new Service();
        const deployment = new Deployment({
          name: `${served.command}-rr`,
          replicas: REPLICAS,
          service,
          template: (name) => template(binary, served, name),
        });
        await deployment.rollout();
        const clusterIp = await service.clusterIp(served.command);
        running.push({ stop: () => clusterIp.close() });
        // Two clients at once: one routed per request (an ingress, a mesh), one through kube-proxy.
        const routed = served.load(service).start();
        const proxied = served.load(clusterIp).start();
        running.push(routed, proxied);
        for (let i = 0; i < RESTARTS; i++) {
          await untilServedByAll(routed, deployment.current);
          await deployment.rollingRestart();
        }
        await untilServedByAll(routed, deployment.current);
        const reports = { routed: await routed.stop(), proxied: await proxied.stop() };
        await deployment.scaleToZero();

        for (const [client, report] of Object.entries(reports)) {
          expect(report.failures, `${client}: ${failures(report, deployment.pods)}`).to.equal(0);
          expect(report.successes, client).to.be.at.least(RESTARTS * 100);
        }
        expect(deployment.pods).to.have.length(REPLICAS * (RESTARTS + 1));
        for (const pod of deployment.pods) {
          expect(reports.routed.byPod[pod.name] ?? 0, `${pod.name} served nothing`).to.be.above(0);
          const exit = pod.exit;
          const what = `${pod.name} exit ${JSON.stringify(exit)}\n${pod.describe()}`;
          expect(exit?.code, what).to.equal(0);
          expect(exit?.killed, what).to.equal(false);
          // The drain delay ran before the servers closed, and everything ended inside the grace period.
          expect(exit?.afterTerminationMs, what).to.be.within(DRAIN_DELAY_MS, GRACE_MS);
          // Readiness fails as soon as SIGTERM arrives: no readiness probe started after it passes.
          const passedWhileTerminating = pod.results.filter((r) => r.probe === 'readiness' && r.terminating && r.ok);
          expect(passedWhileTerminating, what).to.deep.equal([]);
        }
      });
    }
  });
}

/** Until every given pod answered 20 more requests: the load really moved to the new pods. */
async function untilServedByAll(load: Load, pods: readonly Pod[], timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const before = new Map(pods.map((pod) => [pod, load.servedBy(pod)]));
  while (pods.some((pod) => load.servedBy(pod) < (before.get(pod) ?? 0) + 20)) {
    if (performance.now() > deadline) throw new Error(`load did not reach ${pods.map((p) => p.name).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function failures(report: LoadReport, pods: readonly Pod[]): string {
  return [
    `${report.failures} failed of ${report.successes + report.failures}: ${JSON.stringify(report.reasons)}`,
    ...report.samples,
    ...pods.map((pod) => pod.describe()),
  ].join('\n');
}
