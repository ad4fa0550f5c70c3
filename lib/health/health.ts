import type { Clock } from '../lifecycle/clock.js';
import type { LifecycleEvent, LifecycleState } from '../lifecycle/events.js';

import { PROBE_NAMES, type ProbeName } from '../probe/files.js';

export type Probe = ProbeName;
export const PROBES: readonly Probe[] = PROBE_NAMES;

export interface HealthCheck {
  readonly probe: Probe;
  /** Unique within its probe; shown in reports. */
  readonly name: string;
  /** Undefined: the default check deadline applies. */
  readonly timeoutMs?: number | undefined;
  /** Throws (or rejects) when unhealthy. */
  run(): unknown;
}

export interface CheckResult {
  readonly name: string;
  readonly status: 'pass' | 'fail';
  readonly durationMs: number;
  readonly error?: string;
}

export interface ProbeReport {
  readonly probe: Probe;
  readonly status: 'pass' | 'fail';
  /** One line: why it fails; absent when it passes. */
  readonly reason?: string;
  readonly gate: 'open' | 'closed';
  readonly switch: 'open' | 'closed';
  readonly checks: readonly CheckResult[];
}

/**
 * A report as a peer without the control token sees it: the status, and
 * each check's name, outcome and duration, without error messages (a driver
 * error names hosts and users). The reason names the failing checks only.
 */
export function publicReport(report: ProbeReport): ProbeReport {
  const checks = report.checks.map(({ error: _error, ...rest }) => rest);
  const failed = report.checks.filter((c) => c.status === 'fail');
  // Gate and switch reasons say nothing private; a reason built from checks carries their messages.
  const fromChecks = report.status === 'fail' && report.gate === 'open' && report.switch === 'open';
  const reason = fromChecks ? failed.map((c) => `check ${c.name} failed`).join('; ') : report.reason;
  return reason === undefined ? { ...report, checks } : { ...report, reason, checks };
}

export interface HealthOptions {
  readonly clock: Clock;
  readonly checkTimeoutMs: number;
  readonly minIntervalMs: number;
  readonly wedgedAfterMs: number;
}

interface Cached {
  readonly at: number;
  readonly results: Promise<CheckResult[]>;
}

/**
 * Probe state of one running command: checks, switches and the lifecycle
 * gate. Knows no transport; http, grpc and ctl read it through `report`.
 */
export class Health {
  readonly #o: HealthOptions;
  readonly #checks: HealthCheck[] = [];
  readonly #switches: Record<Probe, boolean> = { startup: true, liveness: true, readiness: true };
  readonly #cache = new Map<Probe, Cached>();
  /** Calls that have not settled yet, by check: a hung check is never called again on top of itself. */
  readonly #pending = new Map<HealthCheck, number>();
  readonly #changeListeners = new Set<() => void>();
  readonly #checkListeners = new Set<(probe: Probe, result: CheckResult) => void>();
  #state: LifecycleState = 'idle';
  #lag = 0;
  #lagTimer: NodeJS.Timeout | undefined;

  constructor(options: HealthOptions) {
    this.#o = options;
  }

  addCheck(check: HealthCheck): void {
    if (this.#checks.some((c) => c.probe === check.probe && c.name === check.name)) return;
    this.#checks.push(check);
  }

  checks(probe: Probe): readonly HealthCheck[] {
    return this.#checks.filter((c) => c.probe === probe);
  }

  /** Opens or closes a probe's switch (`HEALTH_STATUS`, the control endpoints). */
  setSwitch(probe: Probe, open: boolean): void {
    if (this.#switches[probe] === open) return;
    this.#switches[probe] = open;
    this.#changed();
  }

  switchOf(probe: Probe): 'open' | 'closed' {
    return this.#switches[probe] ? 'open' : 'closed';
  }

  /** Feeds the lifecycle gate from the event stream. */
  observe(event: LifecycleEvent): void {
    if (event.type !== 'state' || event.state === this.#state) return;
    this.#state = event.state;
    this.#changed();
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** Whether the lifecycle lets the probe pass, and why not. */
  gate(probe: Probe): { open: boolean; reason?: string } {
    const state = this.#state;
    if (state === 'stopped') return { open: false, reason: 'the command has stopped' };
    if (probe === 'liveness') {
      return this.#lag > this.#o.wedgedAfterMs
        ? { open: false, reason: `the event loop was blocked for ${Math.round(this.#lag)} ms` }
        : { open: true };
    }
    if (state === 'idle' || state === 'starting') return { open: false, reason: 'the run has not started yet' };
    // Design §4: startup and readiness pass only while the run has started and no shutdown has begun.
    if (state === 'stopping') return { open: false, reason: 'the command is shutting down' };
    return { open: true };
  }

  /** Gate, switch and checks (run concurrently, each under its deadline, at most once per interval). */
  async report(probe: Probe): Promise<ProbeReport> {
    const closed = this.closedReport(probe);
    if (closed) return closed;
    const sw = this.switchOf(probe);
    const checks = await this.#results(probe);
    const failed = checks.filter((c) => c.status === 'fail');
    // The lifecycle may have moved while checks ran: readiness fails the moment a shutdown begins.
    const after = this.gate(probe);
    if (!after.open)
      return { probe, status: 'fail', reason: after.reason as string, gate: 'closed', switch: sw, checks };
    if (failed.length === 0) return { probe, status: 'pass', gate: 'open', switch: sw, checks };
    const reason = failed.map((c) => `check ${c.name} failed: ${c.error}`).join('; ');
    return { probe, status: 'fail', reason, gate: 'open', switch: sw, checks };
  }

  /** The failing report when the probe's gate or switch is closed, known without running a check; else undefined. */
  closedReport(probe: Probe): ProbeReport | undefined {
    const gate = this.gate(probe);
    const sw = this.switchOf(probe);
    if (!gate.open)
      return { probe, status: 'fail', reason: gate.reason as string, gate: 'closed', switch: sw, checks: [] };
    if (sw === 'closed') {
      return { probe, status: 'fail', reason: `${probe} is switched closed`, gate: 'open', switch: sw, checks: [] };
    }
    return undefined;
  }

  /** Called when a gate or switch changes, so transports can push (gRPC Watch, heartbeat). */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Called with every check result (metrics). */
  onCheck(listener: (probe: Probe, result: CheckResult) => void): () => void {
    this.#checkListeners.add(listener);
    return () => this.#checkListeners.delete(listener);
  }

  /** Samples event-loop lag, for the liveness gate. */
  startLagMonitor(intervalMs = 500): void {
    if (this.#lagTimer) return;
    let expected = this.#o.clock.now() + intervalMs;
    this.#lagTimer = setInterval(() => {
      const now = this.#o.clock.now();
      const lag = Math.max(0, now - expected);
      expected = now + intervalMs;
      const wasWedged = this.#lag > this.#o.wedgedAfterMs;
      this.#lag = lag;
      if (wasWedged !== lag > this.#o.wedgedAfterMs) this.#changed();
    }, intervalMs).unref();
  }

  stop(): void {
    if (this.#lagTimer) clearInterval(this.#lagTimer);
    this.#lagTimer = undefined;
  }

  #results(probe: Probe): Promise<CheckResult[]> {
    const now = this.#o.clock.now();
    const cached = this.#cache.get(probe);
    if (cached && now - cached.at < this.#o.minIntervalMs) return cached.results;
    const results = Promise.all(this.checks(probe).map((check) => this.#run(check)));
    this.#cache.set(probe, { at: now, results });
    return results;
  }

  async #run(check: HealthCheck): Promise<CheckResult> {
    const { clock } = this.#o;
    const timeoutMs = check.timeoutMs ?? this.#o.checkTimeoutMs;
    const start = clock.now();
    const since = this.#pending.get(check);
    let result: CheckResult;
    if (since !== undefined) {
      result = {
        name: check.name,
        status: 'fail',
        durationMs: 0,
        error: `still running after ${Math.round(start - since)} ms (its last call has not settled)`,
      };
    } else {
      this.#pending.set(check, start);
      const call = Promise.resolve()
        .then(() => check.run())
        .finally(() => this.#pending.delete(check));
      let timer: unknown;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = clock.setTimeout(() => resolve('timeout'), timeoutMs);
      });
      let error: string | undefined;
      try {
        const value = await Promise.race([call, timeout]);
        if (value === 'timeout') error = `timed out after ${timeoutMs} ms`;
        else if (value === false) error = 'returned false; a check fails by throwing (or rejecting)';
      } catch (cause) {
        error = cause instanceof Error ? cause.message : String(cause);
      } finally {
        clock.clearTimeout(timer);
      }
      const durationMs = clock.now() - start;
      result =
        error === undefined
          ? { name: check.name, status: 'pass', durationMs }
          : { name: check.name, status: 'fail', durationMs, error };
    }
    for (const listener of this.#checkListeners) {
      try {
        listener(check.probe, result);
      } catch {
        // a broken metrics listener must not fail the check, nor the probe
      }
    }
    return result;
  }

  #changed(): void {
    for (const listener of this.#changeListeners) {
      try {
        listener();
      } catch {
        // a transport's listener must not break the others
      }
    }
  }
}
