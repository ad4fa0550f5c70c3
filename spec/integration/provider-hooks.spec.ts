import { expect } from 'chai';
import { logLines, messagesAmong, waitForLog } from '../telemetry/log-lines.js';
import { fixture, killChildren, node } from './child.js';

/** A (Reports) needs B (Cache) needs C (Store) needs the pool an async factory makes. */
const CLASSES = ['Store', 'Cache', 'Reports', 'ProvidersApp', 'ServeCommand'];
const PRERUN = CLASSES.map((c) => `prerun ${c}`);
const SHUTDOWN = [...CLASSES].reverse().map((c) => `shutdown ${c}`);
const POSTRUN = [...CLASSES].reverse().map((c) => `postrun ${c}`);
const HOOKS = [...PRERUN, ...SHUTDOWN, ...POSTRUN];

// The fixture's hooks await timers and log through the injected Logger, like a real service's.
describe('hooks on providers, in a real process stopped by a real SIGTERM', () => {
  afterEach(() => killChildren());

  it('runs PreRun in dependency order (C, B, A, Main, command), then Shutdown and PostRun exactly reversed', async () => {
    const child = node(fixture('providers'), ['serve']);
    await waitForLog(child, (line) => line.msg === 'serving', 'the serve task running', 5_000, 'stderr');
    child.signal('SIGTERM');
    const exit = await child.waitForExit();
    expect(exit.errorText).to.equal('');
    expect(exit.code).to.equal(0);
    expect(messagesAmong(logLines(exit.stderr), HOOKS)).to.deep.equal(HOOKS);
  });
});
