import { Agent } from 'node:http';
import { expect } from 'chai';
import { killChildren } from '../integration/child.js';
import { outcome, removeRuntimeDirs, send, sleep, startSample } from './sample-process.js';

/**
 * What a Kubernetes Service does with a pod that is stopping: it keeps
 * routing to it until readiness fails, then stops opening new requests to it.
 * With a drain delay longer than that reaction, no request fails.
 */
describe('http drain under load that follows readiness', () => {
  let agent: Agent | undefined;
  afterEach(async () => {
    agent?.destroy();
    await killChildren();
    removeRuntimeDirs();
  });

  it('fails no request when SIGTERM arrives mid-load with a drain delay, keep-alive clients included', async () => {
    const { child, port } = await startSample({ dionysus: { shutdown: { drainDelayMs: 500 } } });
    agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const keepAlive = agent;

    let routing = true;
    const outcomes = new Map<number | string, number>();
    const record = (result: number | string): void => void outcomes.set(result, (outcomes.get(result) ?? 0) + 1);

    // The endpoint controller: polls readiness every 50 ms on its own connections.
    const poller = (async () => {
      while (routing) {
        const readiness = await outcome(send(port, '/healthx/readiness'));
        if (readiness !== 200) routing = false;
        else await sleep(50);
      }
    })();
    // 20 clients, each sending GET /hello back to back while the endpoint is routed to.
    const clients = Array.from({ length: 20 }, async () => {
      while (routing) record(await outcome(send(port, '/hello', { agent: keepAlive })));
    });

    await sleep(1_500);
    const before = outcomes.get(200) ?? 0;
    child.signal('SIGTERM');
    await Promise.all([poller, ...clients]);
    const exit = await child.waitForExit(5_000);

    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(Object.fromEntries(outcomes), 'every request got 200').to.deep.equal({ 200: total });
    expect(before, 'requests before the signal').to.be.above(100);
    expect(total, 'requests after the signal too').to.be.above(before);
    expect(exit.code).to.equal(0);
    expect(exit.stdout).to.not.include('shutdown budget spent');
  });
});
