import type { MemberDecorator } from './hooks.js';
import { type CheckOptions, onMethod, type ProbeKind } from './metadata.js';

function check(decorator: string, probe: ProbeKind, name?: string, options: CheckOptions = {}): MemberDecorator {
  return (target, key, descriptor) =>
    onMethod(decorator, target, key, descriptor, (record, method) => {
      record.checks.push({ probe, method, name: name ?? `${target.constructor.name}.${method}`, options });
    });
}

/** A check of the startup probe: throw (or reject) while not started. */
export const StartupCheck = (name?: string, options?: CheckOptions): MemberDecorator =>
  check('StartupCheck', 'startup', name, options);

/** A check of the liveness probe: throw (or reject) when the process must be restarted. */
export const LivenessCheck = (name?: string, options?: CheckOptions): MemberDecorator =>
  check('LivenessCheck', 'liveness', name, options);

/** A check of the readiness probe: throw (or reject) when traffic must not be routed here. */
export const ReadinessCheck = (name?: string, options?: CheckOptions): MemberDecorator =>
  check('ReadinessCheck', 'readiness', name, options);
