import { type Descriptor, type Heartbeat, heartbeatFile, type ProbeName, readJson } from './files.js';
import type { Answer, ProbeTransport } from './main.js';

/** ctl commands are probed through their heartbeat file, beside the descriptor in the runtime directory. */
export const ctlTransport: ProbeTransport = {
  async ask(descriptor: Descriptor, probe: ProbeName, _timeoutMs: number, dir: string): Promise<Answer> {
    const path = heartbeatFile(dir, descriptor.command);
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
};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
