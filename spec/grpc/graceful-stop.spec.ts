import { Metadata } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { HelloReply } from '../../proto/gen/helloworld/helloworld.js';
import { killChildren } from '../integration/child.js';
import { logLines } from '../telemetry/log-lines.js';
import { removeRuntimeDirs, startGrpc } from './children.js';
import { clientsFor, closeClients, codeName, failure, Serving, unary, Watcher, within } from './clients.js';

// The sample's grpc command as a real process receiving a real SIGTERM:
// readiness fails at once, the server keeps accepting for the drain delay,
// then stops accepting (GOAWAY), lets calls in flight finish within the
// shutdown budget, and exits 0; past the budget it cancels them and exits 1.

const config = (shutdown: Record<string, number>) => JSON.stringify({ dionysus: { shutdown } });
const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

describe('a grpc command stopping on SIGTERM (real process)', () => {
  afterEach(async () => {
    closeClients();
    await killChildren();
    removeRuntimeDirs();
  });

  it('goes NOT_SERVING at once, serves through the drain delay, finishes calls in flight, then refuses and exits 0', async () => {
    const { child, address } = await startGrpc({ NODE_CONFIG: config({ drainDelayMs: 500 }) });
    const before = clientsFor(address);
    const watch = new Watcher(before.health, 'readiness');
    await watch.next(Serving.SERVING);
    const slow = [1, 2, 3].map((i) =>
      unary<HelloReply>((done) => before.greeter.sayHelloSlow({ name: `slow ${i}`, delayMs: 1500 }, done)),
    );
    // Answered on the same connection after them: the slow calls have reached the server.
    await unary((done) => before.greeter.sayHello({ name: 'x' }, done));

    const signalled = performance.now();
    child.signal('SIGTERM');
    const notServing = await watch.next(Serving.NOT_SERVING);
    expect(notServing - signalled, 'NOT_SERVING after the signal').to.be.below(250);

    // Still accepting during the delay: a new connection, a call that outlives the delay.
    const during = clientsFor(address);
    const late = unary<HelloReply>((done) => during.greeter.sayHelloSlow({ name: 'late', delayMs: 700 }, done));
    expect(await unary<HelloReply>((done) => during.greeter.sayHello({ name: 'during' }, done))).to.deep.equal({
      message: 'hello during',
    });
    expect(performance.now() - signalled, 'answered within the drain delay').to.be.below(500);

    // After the delay: watchers are let go and new connections are refused.
    expect(await watch.end()).to.equal('ok');
    await sleepUntil(signalled + 700);
    const after = clientsFor(address);
    const refused = await failure(
      unary((done) => after.greeter.sayHello({ name: 'after' }, new Metadata(), within(1_000), done)),
    );
    expect(codeName(refused.code)).to.equal('UNAVAILABLE');

    expect(await late).to.deep.equal({ message: 'hello late' });
    expect(await Promise.all(slow)).to.deep.equal([
      { message: 'hello slow 1' },
      { message: 'hello slow 2' },
      { message: 'hello slow 3' },
    ]);
    const exit = await child.waitForExit(5_000);
    expect(exit.code, exit.stdout + exit.stderr).to.equal(0);
    expect(watch.statuses).to.deep.equal([Serving.SERVING, Serving.NOT_SERVING]);
  });

  it('cancels calls still running when the shutdown budget is spent, and exits 1 naming the stage', async () => {
    const { child, address } = await startGrpc({ NODE_CONFIG: config({ drainDelayMs: 0, timeoutMs: 500 }) });
    const { greeter } = clientsFor(address);
    const slow = failure(unary((done) => greeter.sayHelloSlow({ name: 'x', delayMs: 3_000 }, done)));
    await unary((done) => greeter.sayHello({ name: 'x' }, done));

    const signalled = performance.now();
    child.signal('SIGTERM');
    const error = await slow;
    expect(codeName(error.code)).to.be.oneOf(['CANCELLED', 'UNAVAILABLE']);
    expect(performance.now() - signalled).to.be.below(2_000);
    const exit = await child.waitForExit(5_000);
    expect(exit.code, exit.stdout + exit.stderr).to.equal(1);
    expect(exit.stderr).to.include(
      'app grpc: GrpcCommand (grpc server) draining was still running when the shutdown budget of 500 ms ran out',
    );
    const cancelling = logLines(exit.stdout).filter((line) => line.msg.startsWith('shutdown budget spent'));
    expect(cancelling.map(({ level, msg }) => ({ level, msg }))).to.deep.equal([
      { level: 'warn', msg: 'shutdown budget spent: cancelling calls in flight' },
    ]);
  });
});
