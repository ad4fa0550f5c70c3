import { expect } from 'chai';
import { removeRuntimeDirs, startSample } from '../http/sample-process.js';
import { logLines, messagesAmong, waitForLog } from '../telemetry/log-lines.js';
import { type Child, killChildren, node, SAMPLE } from './child.js';

/** What the sample's hooks log through the injected Logger, in the order a greet run logs it. */
const RAN = ['resources opened', 'greeting prepared', 'greeting done', 'resources released'];
const STOPPED = [
  'resources opened',
  'greeting prepared',
  'waiting before greeting',
  'greeting cut short by a stop signal',
  'taking no new work',
  'greeting done',
  'resources released',
];
const SAID = [...new Set([...RAN, ...STOPPED])];

/** The hooks' own log lines of a task, which logs to stderr. */
const said = (stderr: string, partial = false): string[] => messagesAmong(logLines(stderr, { partial }), SAID);

const waiting = (child: Child) =>
  waitForLog(child, (line) => line.msg === 'waiting before greeting', 'the greet task waiting', 5_000, 'stderr');

// The compiled reference app as a real process receiving real signals.
describe('the sample app as a process', () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
  });

  it('runs greet through prerun, run and postrun hooks in order and exits 0', async () => {
    const exit = await node(SAMPLE, ['greet', '--name', 'x']).waitForExit();
    expect(said(exit.stderr)).to.deep.equal(RAN);
    expect(exit.errorText).to.equal('');
    expect(exit.code).to.equal(0);
  });

  it("prints only the greeting on a task's stdout: its hooks log through the injected Logger", async () => {
    const exit = await node(SAMPLE, ['greet', '--name', 'x', '--times', '2']).waitForExit();
    expect(exit.code).to.equal(0);
    expect(exit.stdout).to.equal('hello x\nhello x\n');
    // Every stderr line is a JSON record: nothing is printed around the logger.
    expect(exit.stderr.split('\n').filter(Boolean)).to.have.length(logLines(exit.stderr).length);
  });

  it("keeps an http command's stdout pure JSON log lines, its hooks' lines among them", async () => {
    const { child } = await startSample();
    child.signal('SIGTERM');
    const exit = await child.waitForExit();
    expect(exit.code).to.equal(0);
    const records = logLines(exit.stdout);
    expect(exit.stdout.split('\n').filter(Boolean)).to.have.length(records.length);
    const hooks = ['resources opened', 'taking no new work', 'resources released'];
    expect(messagesAmong(records, hooks)).to.deep.equal(hooks);
  });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGQUIT'] as const) {
    it(`stops cleanly on ${signal}: shutdown hooks, then postrun hooks, exit 0`, async () => {
      const child = node(SAMPLE, ['greet', '--name', 'x', '--wait-ms', '60000']);
      await waiting(child);
      child.signal(signal);
      const exit = await child.waitForExit();
      expect(said(exit.stderr)).to.deep.equal(STOPPED);
      expect(exit.stdout).to.equal('hello x\n');
      expect(exit.errorText).to.equal('');
      expect(exit.code).to.equal(0);
    });
  }

  it('ignores SIGHUP and still stops cleanly on a later SIGTERM', async () => {
    const child = node(SAMPLE, ['greet', '--name', 'x', '--wait-ms', '60000']);
    await waiting(child);
    child.signal('SIGHUP');
    // Nothing is logged for an ignored signal: give its default action (exit) time to happen.
    await child.expectRunningFor(300);
    expect(said(child.stderr, true)).to.not.include('greeting cut short by a stop signal');
    child.signal('SIGTERM');
    const exit = await child.waitForExit();
    expect(said(exit.stderr)).to.deep.equal(STOPPED);
    expect(exit.code).to.equal(0);
  });
});
