import { expect } from 'chai';
import { killChildren, node, SAMPLE } from './child.js';

// The compiled reference app as a real process receiving real signals.
describe('the sample app as a process', () => {
  afterEach(killChildren);

  it('runs greet through prerun, run and postrun hooks in order and exits 0', async () => {
    const exit = await node(SAMPLE, ['greet', '--name', 'x']).waitForExit();
    expect(exit.lines).to.deep.equal(['main prerun', 'command prerun', 'hello x', 'command postrun', 'main postrun']);
    expect(exit.errorText).to.equal('');
    expect(exit.code).to.equal(0);
  });

  const stopped = [
    'main prerun',
    'command prerun',
    'waiting',
    'hello x',
    'command shutdown',
    'main shutdown',
    'command postrun',
    'main postrun',
  ];

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
    it(`stops cleanly on ${signal}: shutdown hooks, then postrun hooks, exit 0`, async () => {
      const child = node(SAMPLE, ['greet', '--name', 'x', '--wait-ms', '60000']);
      await child.waitForLine('waiting');
      child.signal(signal);
      const exit = await child.waitForExit();
      expect(exit.lines).to.deep.equal(stopped);
      expect(exit.errorText).to.equal('');
      expect(exit.code).to.equal(0);
    });
  }

  it('ignores SIGHUP and still stops cleanly on a later SIGTERM', async () => {
    const child = node(SAMPLE, ['greet', '--name', 'x', '--wait-ms', '60000']);
    await child.waitForLine('waiting');
    child.signal('SIGHUP');
    // Nothing is printed for an ignored signal: give its default action (exit) time to happen.
    await child.expectRunningFor(300);
    expect(child.lines).to.not.include('command shutdown');
    child.signal('SIGTERM');
    const exit = await child.waitForExit();
    expect(exit.lines).to.deep.equal(stopped);
    expect(exit.code).to.equal(0);
  });
});
