import { Agent } from 'node:http';
import { expect } from 'chai';
import { killChildren } from '../integration/child.js';
import { logRecords } from './logs.js';
import { type Answer, outcome, removeRuntimeDirs, send, sleep, startSample } from './sample-process.js';

// The sample as a real process receiving a real SIGTERM (DESIGN.md §3, step 5).
describe('http drain on SIGTERM', () => {
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    await killChildren();
    removeRuntimeDirs();
  });
  const keepAlive = (): Agent => {
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    return agent;
  };

  it('fails readiness at once, serves through the drain delay, then refuses new connections while in-flight requests finish; exit 0', async () => {
    const DELAY = 500;
    const { child, port } = await startSample({ dionysus: { shutdown: { drainDelayMs: DELAY } } });

    // Several slow requests on keep-alive connections, all written before the signal.
    const agent = keepAlive();
    const sent: Promise<void>[] = [];
    const slow: Promise<Answer>[] = [];
    for (let i = 0; i < 4; i++) {
      sent.push(new Promise((onSent) => slow.push(send(port, '/slow?ms=1500', { agent, onSent }))));
    }
    await Promise.all(sent);
    // And an idle keep-alive connection that a client uses again during the delay.
    const reused = keepAlive();
    expect((await send(port, '/hello', { agent: reused })).headers.connection).to.equal('keep-alive');
    await sleep(100);

    const signalled = performance.now();
    const since = (): number => performance.now() - signalled;
    child.signal('SIGTERM');

    // Readiness fails at once, long before the delay ends.
    let readiness: Answer | undefined;
    while (since() < DELAY) {
      readiness = await send(port, '/healthx/readiness');
      if (readiness.status === 503) break;
    }
    const failedAfter = since();
    expect(readiness?.status).to.equal(503);
    expect(failedAfter).to.be.below(DELAY - 100);
    expect(JSON.parse(readiness?.body ?? '')).to.include({ status: 'fail', reason: 'the command is shutting down' });

    // The keep-alive connection is still served, and told to close, so its client reconnects elsewhere.
    const again = await send(port, '/hello', { agent: reused });
    expect([again.status, again.headers.connection]).to.deep.equal([200, 'close']);
    expect(since()).to.be.below(DELAY);

    // New connections: served until the delay ends, refused after it; nothing in between (no resets).
    const answers: { at: number; outcome: number | string }[] = [];
    while (since() < 1_300) {
      const at = since();
      const result = await outcome(send(port, '/hello'));
      answers.push({ at, outcome: result });
      if (result === 'ECONNREFUSED') break;
      await sleep(20);
    }
    const served = answers.filter((a) => a.outcome === 200);
    const refused = answers.find((a) => a.outcome === 'ECONNREFUSED');
    expect(served.length, JSON.stringify(answers)).to.be.at.least(5);
    expect(refused, JSON.stringify(answers)).to.not.equal(undefined);
    expect(
      answers.slice(0, -1).every((a) => a.outcome === 200),
      JSON.stringify(answers),
    ).to.equal(true);
    expect(refused?.at, 'refused only after the delay').to.be.at.least(DELAY - 50);

    // The in-flight requests all complete, and their keep-alive connections are told to close.
    for (const answer of await Promise.all(slow)) {
      expect(answer.status).to.equal(200);
      expect(JSON.parse(answer.body)).to.deep.equal({ sleptMs: 1500 });
      expect(answer.headers.connection).to.equal('close');
    }
    const exit = await child.waitForExit(5_000);
    expect(exit.code, exit.stdout + exit.stderr).to.equal(0);
    const drain = logRecords(exit.stdout).find((r) => r.phase === 'drain' && r.hook === undefined);
    expect(drain).to.include({ outcome: 'ok' });
    expect(exit.stdout).to.not.include('shutdown budget spent');
  });

  it('closes idle keep-alive connections when the drain starts, and tells a busy one to close', async () => {
    const { child, port } = await startSample();
    const agent = keepAlive();
    // One idle keep-alive connection, and one busy with a slow request.
    expect((await send(port, '/hello', { agent })).headers.connection).to.equal('keep-alive');
    const busyAgent = keepAlive();
    let written!: () => void;
    const onSent = new Promise<void>((resolve) => (written = resolve));
    const busy = send(port, '/slow?ms=600', { agent: busyAgent, onSent: written });
    await onSent;
    await sleep(100);
    const idle = Object.values(agent.freeSockets).flat()[0];
    expect(idle, 'the idle connection in the pool').to.not.equal(undefined);
    const idleClosed = new Promise<void>((resolve) => idle?.once('close', () => resolve()));

    child.signal('SIGTERM');
    await idleClosed; // closed by the server, before the slow request is done
    const answer = await busy;
    expect(answer.status).to.equal(200);
    expect(answer.headers.connection).to.equal('close');
    expect((await child.waitForExit(5_000)).code).to.equal(0);
  });

  it('exits 1 within the shutdown budget, naming the stage, when a request outlasts it', async () => {
    const BUDGET = 400;
    const { child, port } = await startSample({ dionysus: { shutdown: { timeoutMs: BUDGET } } });
    let written!: () => void;
    const onSent = new Promise<void>((resolve) => (written = resolve));
    const slow = outcome(send(port, '/slow?ms=5000', { onSent: written }));
    await onSent;
    await sleep(100);

    const signalled = performance.now();
    child.signal('SIGTERM');
    const exit = await child.waitForExit(5_000);
    const tookMs = performance.now() - signalled;

    expect(exit.code).to.equal(1);
    expect(tookMs)
      .to.be.at.least(BUDGET)
      .and.below(BUDGET + 1_000);
    expect(exit.stderr).to.include(
      `HttpCommand (http server) draining was still running when the shutdown budget of ${BUDGET} ms ran out`,
    );
    const warn = logRecords(exit.stdout).find((r) => r.msg.startsWith('shutdown budget spent'));
    expect(warn).to.include({ level: 'warn', sockets: 1 });
    expect(await slow, 'the request past the budget is cut off').to.equal('ECONNRESET');
  });
});
