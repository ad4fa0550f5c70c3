import { statSync } from 'node:fs';
import { Health, PROBES, type Probe } from '../health/health.js';
import { RuntimeInfo } from '../health/runtime.js';
import type { RunContext, RunHandle, ServerRunner } from '../lifecycle/runner.js';
import { methodRunner } from '../lifecycle/task.js';
import {
  type Control,
  controlFile,
  type Heartbeat,
  heartbeatFile,
  type ProbeState,
  readJson,
  removeQuietly,
  writeJsonAtomic,
} from '../probe/files.js';

/**
 * The ctl server: runs the command's `@Run(signal)` loop and keeps a
 * heartbeat file carrying the three probe states, refreshed every interval
 * and at once when a gate or switch changes. Switches set by
 * `HEALTH_STATUS=open|close app <probe>` arrive through a control file.
 */
export function ctlRunner(): ServerRunner {
  return {
    label: 'ctl loop',
    async start(context: RunContext): Promise<RunHandle> {
      const health = context.container.get(Health);
      const runtime = context.container.get(RuntimeInfo);
      const { heartbeatIntervalMs, staleAfterIntervals } = context.settings.health;
      const heartbeat = heartbeatFile(runtime.dir, runtime.command);
      const control = controlFile(runtime.dir, runtime.command);
      let controlSeen = 0;
      let writing: Promise<void> | undefined;
      let again = false;
      let closed = false;

      const applyControl = (): void => {
        let mtime: number;
        try {
          mtime = statSync(control).mtimeMs;
        } catch {
          return; // no control file: switches stay as they are
        }
        if (mtime === controlSeen) return;
        controlSeen = mtime;
        const read = readJson(control);
        if (!read.ok) return;
        const value = read.value as Partial<Control>;
        if (value.pid !== process.pid || typeof value.switches !== 'object' || !value.switches) return;
        for (const probe of PROBES) {
          const wanted = value.switches[probe];
          if (wanted === 'open' || wanted === 'close') health.setSwitch(probe, wanted === 'open');
        }
      };

      const beat = async (): Promise<void> => {
        applyControl();
        const reports = await Promise.all(PROBES.map((probe) => health.report(probe)));
        if (closed) return;
        const probes = Object.fromEntries(
          reports.map((r) => [r.probe, r.reason ? { status: r.status, reason: r.reason } : { status: r.status }]),
        ) as Record<Probe, ProbeState>;
        const data: Heartbeat = {
          format: 1,
          pid: process.pid,
          at: Date.now(),
          staleAfterMs: heartbeatIntervalMs * staleAfterIntervals,
          probes,
        };
        writeJsonAtomic(heartbeat, data);
      };
      // One write at a time; a change during a write schedules one more.
      const refresh = (): void => {
        if (closed) return;
        if (writing) {
          again = true;
          return;
        }
        writing = beat()
          .catch(() => {
            // a failed write leaves the heartbeat to go stale, which is the truth
          })
          .finally(() => {
            writing = undefined;
            if (again) {
              again = false;
              refresh();
            }
          });
      };

      runtime.set('heartbeat', heartbeat);
      runtime.set('control', control);
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
          removeQuietly(control);
        },
      };
    },
  };
}
