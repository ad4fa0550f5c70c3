import type { HookOwner } from '../container/owners.js';
import type { HookPlan, Resource } from '../plan/types.js';
import type { Component, Deadline } from './component.js';
import type { Phase } from './events.js';

/**
 * Components and users' hooks as the lifecycle runs them: each method a list
 * of calls, each call named, under its deadline, reporting a phase.
 */

/** One call of a component: a framework step, a user hook. */
export interface Call {
  readonly name: string;
  readonly timeoutMs: number;
  fn(deadline: Deadline): unknown;
}

/** A component as the lifecycle runs it: its calls per pass, and the phase each pass reports. */
export interface Part {
  readonly start: readonly Call[];
  readonly drain: readonly Call[];
  readonly stop: readonly Call[];
  readonly phases: { readonly start: Phase; readonly drain: Phase; readonly stop: Phase };
  readonly around?: Component['around'];
  /** PostRun even when its PreRun did not run or failed: Main's and the command's hooks, as always. */
  readonly alwaysStop?: boolean;
}

/** A framework component: each method one call named `framework.<name>`, under the hook deadline. */
export function componentPart(component: Component, timeoutMs: number, startPhase: Phase = 'framework'): Part {
  const calls = (method: 'start' | 'drain' | 'stop'): Call[] =>
    component[method] ? [{ name: `framework.${component.name}`, timeoutMs, fn: (d) => component[method]?.(d) }] : [];
  return {
    start: calls('start'),
    drain: calls('drain'),
    stop: calls('stop'),
    phases: { start: startPhase, drain: 'drain', stop: startPhase === 'run' ? 'run' : 'framework-post' },
    ...(component.around ? { around: component.around.bind(component) } : {}),
  };
}

/** A class's hooks as a component: PreRun starts it, Shutdown drains it, PostRun stops it. */
export function ownerPart(owner: HookOwner, defaultMs: number, alwaysStop: boolean): Part {
  const calls = (hooks: readonly HookPlan[]): Call[] =>
    hooks.map((hook) => ({
      name: hook.name,
      timeoutMs: hook.timeoutMs ?? defaultMs,
      fn: ({ signal }) => (owner.instance as Record<string, (s: AbortSignal) => unknown>)[hook.method]?.(signal),
    }));
  return {
    start: calls(owner.hooks.prerun),
    drain: calls(owner.hooks.shutdown),
    stop: calls(owner.hooks.postrun),
    phases: { start: 'prerun', drain: 'shutdown', stop: 'postrun' },
    alwaysStop,
  };
}

/**
 * A Resource (what owns a factory's value) as a part: it starts in the PreRun
 * pass at its value's place in the dependency order and stops in the PostRun
 * pass in reverse, but drains with the framework's parts, right after the
 * servers and before any Shutdown hook. Each call is named by its label.
 */
export function resourcePart(resource: Resource, timeoutMs: number): Part {
  const calls = (method: 'start' | 'drain' | 'stop'): Call[] =>
    typeof resource[method] === 'function'
      ? [{ name: resource.label, timeoutMs, fn: ({ signal }) => resource[method]?.(signal) }]
      : [];
  return {
    start: calls('start'),
    drain: calls('drain'),
    stop: calls('stop'),
    phases: { start: 'prerun', drain: 'drain', stop: 'postrun' },
  };
}
