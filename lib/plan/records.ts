import { type ClassRecord, readRecord } from '../../decorators/metadata.js';
import { timerRange } from '../config/validate.js';

/**
 * The class's record merged with its base classes' (bases first), so a
 * command may inherit hooks. A method decorated again in a subclass counts once.
 */
export function merged(cls: Function, problems: string[]): ClassRecord {
  const chain: ClassRecord[] = [];
  for (let c: Function | null = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    const record = readRecord(c);
    if (record) chain.unshift(record);
  }
  const out: ClassRecord = { runs: [], hooks: [], checks: [], options: [], routes: [], problems: [] };
  for (const record of chain) {
    out.main = record.main ?? out.main;
    out.controller = record.controller ?? out.controller;
    out.grpcService = record.grpcService ?? out.grpcService;
    for (const route of record.routes) {
      const same = out.routes.findIndex((r) => r.handler === route.handler && r.method === route.method);
      if (same >= 0) out.routes.splice(same, 1);
      out.routes.push(route);
    }
    if (record.params) {
      // A method redeclared in a subclass takes its parameters from there.
      const methods = new Set(record.params.map((p) => p.method));
      out.params = [...(out.params ?? []).filter((p) => !methods.has(p.method)), ...record.params];
    }
    out.command = record.command ?? out.command;
    out.runs.push(...record.runs);
    for (const hook of record.hooks) {
      const same = out.hooks.findIndex((h) => h.phase === hook.phase && h.method === hook.method);
      if (same >= 0) out.hooks.splice(same, 1);
      out.hooks.push(hook);
    }
    out.checks.push(
      ...record.checks.filter((c) => !out.checks.some((o) => o.probe === c.probe && o.method === c.method)),
    );
    out.options.push(...record.options.filter((o) => !out.options.some((p) => p.property === o.property)));
    problems.push(...record.problems.filter((p) => !problems.includes(p)));
    validateHookOptions(cls, record, problems);
  }
  return out;
}

function validateHookOptions(cls: Function, record: ClassRecord, problems: string[]): void {
  for (const { method, options } of record.hooks) {
    const { timeoutMs, order } = options;
    const badTimeout = timeoutProblem(timeoutMs);
    if (badTimeout) {
      const p = `${cls.name}.${method}: timeoutMs ${badTimeout}.`;
      if (!problems.includes(p)) problems.push(p);
    }
    if (order !== undefined && !Number.isFinite(order)) {
      const p = `${cls.name}.${method}: order must be a finite number, got ${String(order)}.`;
      if (!problems.includes(p)) problems.push(p);
    }
  }
  for (const check of record.checks) {
    const badTimeout = timeoutProblem(check.options.timeoutMs);
    if (badTimeout) {
      const p = `${cls.name}.${check.method}: check timeoutMs ${badTimeout}.`;
      if (!problems.includes(p)) problems.push(p);
    }
  }
}

/** What is wrong with a decorator's `timeoutMs`, or undefined. */
function timeoutProblem(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  if (!(Number.isFinite(ms) && ms > 0)) return `must be a positive number of milliseconds, got ${String(ms)}`;
  const tooLong = timerRange(ms);
  return tooLong && `${ms} ${tooLong}`;
}
