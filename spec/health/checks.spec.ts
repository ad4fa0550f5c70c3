import { expect } from 'chai';
import {
  Command,
  type LifecycleEvent,
  LivenessCheck,
  Main,
  ReadinessCheck,
  Run,
  Shutdown,
  StartupCheck,
} from 'dionysus';
import { createTestContainer, FakeSignals, type RunResult, runCommand } from 'dionysus/testing';
import type { Container } from 'inversify';
import { injectable } from 'inversify';
import { Health, PROBES, type Probe } from '../../lib/health/health.js';
import { aborted } from '../support/events.js';

// Checks declared with @StartupCheck/@LivenessCheck/@ReadinessCheck reach the
// running command's probe state from Main, the command and its providers.

/** Listed in @Main providers and injected into the command. */
class Database {
  connected = true;

  @ReadinessCheck('database')
  ping(): void {
    if (!this.connected) throw new Error('database down');
  }
}

/** Not listed anywhere: reached only through the command's constructor, and it has nothing but a check. */
class DiskSpace {
  @LivenessCheck()
  enough(): void {}
}

/** Not listed anywhere: reached through Cache's constructor, two hops from the command. */
class Connection {
  @StartupCheck('connection')
  opened(): void {}
}

@injectable()
class Cache {
  constructor(readonly connection: Connection) {}

  @ReadinessCheck('cache')
  warm(): void {}
}

@Command('work')
class WorkCommand {
  constructor(
    readonly database: Database,
    readonly disk: DiskSpace,
    readonly cache: Cache,
  ) {}

  @Run()
  run(signal: AbortSignal): Promise<void> {
    return aborted(signal);
  }

  @StartupCheck()
  warmedUp(): void {}

  @ReadinessCheck('queue', { timeoutMs: 250 })
  queue(): void {}

  @Shutdown()
  drain(): void {}
}

@Main({ name: 'checks', commands: [WorkCommand], providers: [Database] })
class ChecksApp {
  @LivenessCheck('main')
  alive(): void {}
}

/**
 * Runs `work` in-process; once it is running, calls `inspect` with the run's
 * container, then stops the run with SIGTERM.
 */
async function whileRunning<T>(
  inspect: (container: Container) => Promise<T>,
  settings: { health?: { minIntervalMs?: number } } = {},
  watch: (event: LifecycleEvent, container: Container) => void = () => {},
): Promise<{ value: T; result: RunResult }> {
  const container = createTestContainer(ChecksApp);
  const signals = new FakeSignals();
  let inspected: Promise<T> | undefined;
  const result = await runCommand(ChecksApp, ['work'], {
    container,
    signals,
    settings,
    onEvent: (event) => {
      watch(event, container);
      if (event.type === 'state' && event.state === 'running') {
        // After this event reached every subscriber: the health step sees it after onEvent does.
        inspected = Promise.resolve()
          .then(() => inspect(container))
          .finally(() => signals.send('SIGTERM'));
      }
    },
  });
  if (!inspected) throw new Error(`the run never reached 'running'\n${result.stderr}`);
  return { value: await inspected, result };
}

function namesByProbe(health: Health): Record<Probe, string[]> {
  return Object.fromEntries(
    PROBES.map((probe) => [
      probe,
      health
        .checks(probe)
        .map((c) => c.name)
        .sort(),
    ]),
  ) as Record<Probe, string[]>;
}

describe('health checks of a running command', () => {
  it('registers the checks declared on Main, on the command and on a provider injected into the command', async () => {
    const { value, result } = await whileRunning(async (container) => {
      const health = container.get(Health);
      return { names: namesByProbe(health), queue: health.checks('readiness').find((c) => c.name === 'queue') };
    });
    expect(result.exitCode).to.equal(0);
    expect(value.names.liveness).to.include('main');
    expect(value.names.startup).to.include('WorkCommand.warmedUp');
    expect(value.names.readiness).to.include.members(['queue', 'database']);
    expect(value.queue?.timeoutMs, "the check's own timeoutMs").to.equal(250);
  });

  it('registers a checks-only provider discovered through constructor injection, though not listed in @Main providers', async () => {
    const { value } = await whileRunning(async (container) => namesByProbe(container.get(Health)));
    expect(value).to.deep.equal({
      startup: ['WorkCommand.warmedUp', 'connection'],
      liveness: ['DiskSpace.enough', 'main'],
      readiness: ['cache', 'database', 'queue'],
    });
  });

  it('runs every probe against the instances the command was built with', async () => {
    const { value } = await whileRunning(
      async (container) => {
        const health = container.get(Health);
        const before = await Promise.all(PROBES.map((probe) => health.report(probe)));
        // The same singleton the command got: its check now fails.
        container.get(Database).connected = false;
        const after = await health.report('readiness');
        return { before, after };
      },
      { health: { minIntervalMs: 0 } },
    );
    expect(value.before.map((r) => [r.probe, r.status, r.checks.length])).to.deep.equal([
      ['startup', 'pass', 2],
      ['liveness', 'pass', 2],
      ['readiness', 'pass', 3],
    ]);
    expect(value.after.status).to.equal('fail');
    expect(value.after.reason).to.equal('check database failed: database down');
    expect(value.after.checks.find((c) => c.name === 'database')).to.deep.include({
      status: 'fail',
      error: 'database down',
    });
  });

  it('fails readiness before the Shutdown hooks run, and every probe once the command stopped', async () => {
    let readinessAtShutdown: { open: boolean; reason?: string } | undefined;
    const { value, result } = await whileRunning(
      async (container) => container.get(Health),
      {},
      (event, container) => {
        if (event.type === 'hook:start' && event.hook === 'WorkCommand.drain') {
          readinessAtShutdown = container.get(Health).gate('readiness');
        }
      },
    );
    expect(result.exitCode).to.equal(0);
    expect(readinessAtShutdown).to.deep.equal({ open: false, reason: 'the command is shutting down' });
    for (const probe of PROBES) {
      expect((await value.report(probe)).status, probe).to.equal('fail');
    }
  });
});
