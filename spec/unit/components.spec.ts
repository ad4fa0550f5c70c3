import { expect } from 'chai';
import { Command, type LifecycleEvent, Main, PostRun, PreRun, Run, Shutdown } from 'dionysus';
import { FakeClock, FakeSignals } from 'dionysus/testing';
import { createAppContainer } from '../../lib/container/container.js';
import type { Component } from '../../lib/lifecycle/component.js';
import { LifecycleEvents } from '../../lib/lifecycle/events.js';
import { runLifecycle } from '../../lib/lifecycle/lifecycle.js';
import { methodRunner } from '../../lib/lifecycle/task.js';
import { buildPlan } from '../../lib/plan/plan.js';
import { aborted } from '../support/events.js';

/** What ran, in order. */
let log: string[] = [];

@Command('serve', { description: 'Runs until stopped' })
class ServeCommand {
  @PreRun()
  open(): void {
    log.push('PreRun ServeCommand.open');
  }

  @Run()
  async run(signal: AbortSignal): Promise<void> {
    log.push('run');
    await aborted(signal);
  }

  @Shutdown()
  close(): void {
    log.push('Shutdown ServeCommand.close');
  }

  @PostRun()
  release(): void {
    log.push('PostRun ServeCommand.release');
  }
}

@Main({ name: 'seam', commands: [ServeCommand] })
class SeamApp {}

/** A component that says what it does; `fails` names the methods that throw. */
function part(name: string, fails: readonly ('start' | 'stop')[] = []): Component {
  const act = (what: 'start' | 'drain' | 'stop') => (): void => {
    log.push(`${what} ${name}`);
    if ((fails as readonly string[]).includes(what)) throw new Error(`${name} broke in ${what}`);
  };
  return { name, start: act('start'), drain: act('drain'), stop: act('stop') };
}

/** Runs `serve` with these components; SIGTERM once it runs. Resolves to the exit code and the exit's errors. */
async function run(components: readonly Component[]): Promise<{ code: number; errors: readonly Error[] }> {
  const plan = buildPlan(SeamApp);
  const command = plan.commands.get('serve');
  if (!command) throw new Error('no serve command');
  const signals = new FakeSignals();
  const events = new LifecycleEvents();
  let errors: readonly Error[] = [];
  events.on((event: LifecycleEvent) => {
    if (event.type === 'state' && event.state === 'running') signals.send('SIGTERM');
    if (event.type === 'exit') errors = event.errors;
  });
  const code = await runLifecycle({
    plan,
    command,
    container: createAppContainer(plan, command),
    events,
    clock: new FakeClock(),
    signals,
    compose: () => ({
      settings: { hooks: { timeoutMs: 1_000 }, shutdown: { timeoutMs: 5_000, drainDelayMs: 0 } },
      components,
      runner: () => methodRunner(),
    }),
  });
  return { code, errors };
}

describe('components: the one seam of the lifecycle', () => {
  beforeEach(() => {
    log = [];
  });

  it('starts components in list order; after a signal drains them once the run stopped, then Shutdown, PostRun, and stops them in reverse', async () => {
    const { code } = await run([part('a'), part('b'), part('c')]);
    expect(code).to.equal(0);
    expect(log).to.deep.equal([
      'start a',
      'start b',
      'start c',
      'PreRun ServeCommand.open',
      'run',
      // Resources drain after the servers, while users' Shutdown hooks can still use them.
      'drain c',
      'drain b',
      'drain a',
      'Shutdown ServeCommand.close',
      'PostRun ServeCommand.release',
      'stop c',
      'stop b',
      'stop a',
    ]);
  });

  it('stops only the components that started when one fails to start, collecting every error', async () => {
    const { code, errors } = await run([part('a', ['stop']), part('b', ['start']), part('c')]);
    expect(code).to.equal(1);
    // c never started, so it never stops; no user hook runs after a framework part failed.
    expect(log).to.deep.equal(['start a', 'start b', 'stop a']);
    expect(errors.map((e) => e.message)).to.deep.equal([
      'framework.b failed in framework: b broke in start',
      'framework.a failed in framework-post: a broke in stop',
    ]);
  });
});
