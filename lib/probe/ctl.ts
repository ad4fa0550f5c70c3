import { type Control, type Descriptor, type Heartbeat, type ProbeName, readJson, writeJsonAtomic } from './files.js';
import type { Answer, ProbeTransport } from './main.js';

/** ctl commands are probed through files: the heartbeat to ask, the control file to flip. */
export const ctlTransport: ProbeTransport = {
  async ask(descriptor: Descriptor, probe: ProbeName): Promise<Answer> {
    const path = descriptor.heartbeat;
    // Only a string: fs reads a number as a file descriptor, and a pipe's would block the probe past its timeout.
    if (typeof path !== 'string' || !path)
      return { ok: false, detail: `the descriptor of ${descriptor.command} names no heartbeat file` };
    const read = readJson(path);
    if (!read.ok) return { ok: false, detail: `no heartbeat: ${read.reason}` };
    const beat = read.value as Partial<Heartbeat> | null;
    const state = beat?.probes?.[probe];
    if (!beat || typeof beat.at !== 'number' || typeof beat.staleAfterMs !== 'number' || !state) {
      return { ok: false, detail: `heartbeat ${path} has an unexpected shape` };
    }
    if (beat.pid !== descriptor.pid) return { ok: false, detail: `heartbeat ${path} belongs to another process` };
    const age = Date.now() - beat.at;
    if (age > beat.staleAfterMs) {
      return {
        ok: false,
        detail: `heartbeat is stale (refreshed ${seconds(age)} ago, limit ${seconds(beat.staleAfterMs)})`,
      };
    }
    return state.status === 'pass' ? { ok: true } : { ok: false, detail: state.reason ?? 'failing' };
  },

  async flip(descriptor: Descriptor, probe: ProbeName, open: boolean): Promise<Answer> {
    const path = descriptor.control;
    if (typeof path !== 'string' || !path)
      return { ok: false, detail: `the descriptor of ${descriptor.command} names no control file` };
    const read = readJson(path);
    const previous = read.ok ? (read.value as Partial<Control>) : undefined;
    const switches = previous?.pid === descriptor.pid && previous.switches ? { ...previous.switches } : {};
    switches[probe] = open ? 'open' : 'close';
    const control: Control = { format: 1, pid: descriptor.pid, switches };
    writeJsonAtomic(path, control);
    return { ok: true, detail: `switch ${open ? 'open' : 'close'} requested (applied within one heartbeat interval)` };
  },
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
