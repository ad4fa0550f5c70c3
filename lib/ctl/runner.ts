import type { FrameworkSettings } from '../config/defaults.js';
import { type Health, PROBES, type Probe, type ProbeReport } from '../health/health.js';
import type { RuntimeInfo } from '../health/runtime.js';
import { removeQuietly } from '../health/runtime-files.js';
import type { RunContext, RunHandle, ServerRunner } from '../lifecycle/runner.js';
import { methodRunner } from '../lifecycle/task.js';
import { type Heartbeat, heartbeatFile, type ProbeState } from '../probe/files.js';

export interface CtlRunnerOptions {
  readonly settings: Pick<FrameworkSettings, 'health'>;
  readonly health: Health;
  /** The runtime directory its heartbeat file goes to. */
  readonly runtime: RuntimeInfo;
}

/**
 * The ctl server: runs the command's `@Run(signal)` loop and keeps a
 * heartbeat file carrying the three probe states, refreshed every interval
 * and at once when a gate or switch changes. Switches set by
 * `HEALTH_STATUS=open|close app <probe>` arrive over the local control
 * socket (see the health step), as for every server command.
 */
export function ctlRunner({ settings, health, runtime }: CtlRunnerOptions): ServerRunner {
  return {
    label: 'ctl loop',
    async start(context: RunContext): Promise<RunHandle> {
      const { heartbeatIntervalMs, staleAfterIntervals } = settings.health;
      const heartbeat = heartbeatFile(runtime.dir, runtime.command);
      let writing: Promise<void> | undefined;
      let again = false;
      let closed = false;

      /** The probe states of the last evaluation that finished (checks can take longer than an interval). */
      let checked: Record<Probe, ProbeState> | undefined;
      const stateOf = (report: ProbeReport): ProbeState =>
        report.reason ? { status: report.status, reason: report.reason } : { status: report.status };
      /**
       * Writes the heartbeat now: a closed gate or switch as it is this moment,
       * otherwise the last finished checks. Written on every interval whatever
       * the checks do, so a check slower than the interval never makes a
       * healthy process look dead: staleness means the event loop stopped.
       */
      const write = (): void => {
        if (closed || !checked) return;
        const last = checked;
        const probes = Object.fromEntries(
          PROBES.map((probe) => {
            const now = health.closedReport(probe);
            return [probe, now ? stateOf(now) : last[probe]];
          }),
        ) as Record<Probe, ProbeState>;
        const data: Heartbeat = {
          format: 1,
          pid: process.pid,
          at: Date.now(),
          staleAfterMs: heartbeatIntervalMs * staleAfterIntervals,
          probes,
        };
        // A failed write is reported (logged at error) and tried again on the next beat.
        runtime.writeFile(heartbeat, data);
      };
      const evaluate = async (): Promise<void> => {
        const reports = await Promise.all(PROBES.map((probe) => health.report(probe)));
        if (closed) return;
        checked = Object.fromEntries(reports.map((r) => [r.probe, stateOf(r)])) as Record<Probe, ProbeState>;
        write();
      };
      // One evaluation at a time; a change during one schedules one more.
      const refresh = (): void => {
        if (closed) return;
        if (writing) {
          // Checks still running: the heartbeat stays fresh meanwhile, with gates and switches as they are now.
          write();
          again = true;
          return;
        }
        writing = evaluate()
          .catch(() => {
            // a failed evaluation keeps the last states
          })
          .finally(() => {
            writing = undefined;
            if (again) {
              again = false;
              refresh();
            }
          });
      };

      const timer = setInterval(refresh, heartbeatIntervalMs);
      const unsubscribe = health.onChange(refresh);
      refresh();
      await writing;

      const run = await methodRunner('ctl loop').start(context);
      return {
        ended: run.ended,
        async close() {
          if (closed) return;
          closed = true;
          clearInterval(timer);
          unsubscribe();
          await writing;
          removeQuietly(heartbeat);
        },
      };
    },
  };
}
