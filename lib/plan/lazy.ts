import { declaredServerClasses, readRecord } from '../../decorators/metadata.js';
import { messageOf } from '../errors.js';
import type { CommandPlan, LazyListPlan } from './types.js';

/**
 * Lazy `controllers` and `services` lists: `@Command('http', { controllers:
 * () => import('./controllers/index.js') })`. The planner plans a command
 * whose function was not called yet without those classes (enough for
 * `--help`); a run calls it (`loadLazyLists`), then plans again with what it
 * gave, so their problems are reported all at once as at start.
 */

type Outcome = { readonly value: unknown } | { readonly error: unknown } | { readonly pending: Promise<void> };

/** What each list's function gave, by function: called once per process. */
const outcomes = new WeakMap<Function, Outcome>();

/** A function listing classes, rather than one class given where an array belongs. */
export function isLazyList(value: unknown): value is LazyListPlan['load'] {
  if (typeof value !== 'function') return false;
  return readRecord(value) === undefined && !/^class\b/.test(Function.prototype.toString.call(value));
}

/**
 * The classes a lazy list gave, or undefined while its function has not been
 * called (or its promise is pending); a problem naming the command when it
 * threw, rejected or gave something else.
 */
export function lazyClasses(list: LazyListPlan, command: Function, problems: string[]): unknown[] | undefined {
  const outcome = outcomes.get(list.load);
  if (!outcome || 'pending' in outcome) return undefined;
  const what = list.kind === 'controllers' ? '@Controller' : '@GrpcService';
  if ('error' in outcome) {
    problems.push(`${command.name}: loading its ${list.kind} failed: ${messageOf(outcome.error)}`);
    return [];
  }
  const { value } = outcome;
  const classes = Array.isArray(value) ? value : (value as Record<string, unknown> | null | undefined)?.[list.kind];
  if (!Array.isArray(classes)) {
    problems.push(
      `${command.name}: its ${list.kind} function gave ${describe(value)}; return an array of ${what} classes, or a module that exports one as '${list.kind}' (or a promise of either).`,
    );
    return [];
  }
  return classes;
}

/**
 * Calls the lazy lists of these commands not called yet, and waits for
 * those that return a promise. Resolves to the @Controller and @GrpcService
 * classes their modules declared. Never rejects: a failure is the planner's
 * problem to report.
 */
export async function loadLazyLists(commands: Iterable<CommandPlan>): Promise<Function[]> {
  const before = declaredServerClasses().length;
  const pending: Promise<void>[] = [];
  for (const command of commands) {
    for (const list of command.lazy) {
      const outcome = start(list.load);
      if ('pending' in outcome) pending.push(outcome.pending);
    }
  }
  await Promise.all(pending);
  return declaredServerClasses().slice(before);
}

/**
 * Calls the lazy lists of these commands synchronously: the names of those
 * whose function returned a promise that has not settled yet (none when
 * every list is loaded).
 */
export function loadLazyListsNow(commands: Iterable<CommandPlan>): string[] {
  const waiting: string[] = [];
  for (const command of commands) {
    for (const list of command.lazy) {
      if ('pending' in start(list.load)) waiting.push(`${command.cls.name}'s ${list.kind}`);
    }
  }
  return waiting;
}

function start(load: LazyListPlan['load']): Outcome {
  const known = outcomes.get(load);
  if (known) return known;
  let outcome: Outcome;
  try {
    const value = load();
    outcome =
      typeof (value as PromiseLike<unknown> | undefined)?.then === 'function'
        ? {
            pending: Promise.resolve(value).then(
              (resolved) => void outcomes.set(load, { value: resolved }),
              (error: unknown) => void outcomes.set(load, { error }),
            ),
          }
        : { value };
  } catch (error) {
    outcome = { error };
  }
  outcomes.set(load, outcome);
  return outcome;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return `the function ${value.name || '(anonymous)'}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length > 0 ? `an object with ${keys.map((k) => `'${k}'`).join(', ')}` : 'an empty object';
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}
