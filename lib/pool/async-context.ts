import { AsyncResource } from 'node:async_hooks';

const major = Number(process.versions.node.split('.')[0]);
const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];

/**
 * Whether AsyncLocalStorage runs on AsyncContextFrame (Node 24 by default, 22 behind a flag):
 * it then needs no async hooks, nothing says whether a store is in use, and a waiting task is
 * always bound to its submitter's context.
 */
const contextFrames =
  major >= 24 ? !flags.includes('--no-async-context-frame') : flags.includes('--experimental-async-context-frame');

/** The key under which Node keeps a tracked promise's async id; null when it cannot be found. */
let asyncIdKey: symbol | null | undefined;

function findAsyncIdKey(): symbol | null {
  // Node keeps an AsyncResource's async id under the same key as a tracked promise's.
  const key = Object.getOwnPropertySymbols(new AsyncResource('dionysus.pool.probe')).find(
    (symbol) => symbol.description === 'async_id_symbol',
  );
  return key ?? null;
}

/**
 * Whether a task that waits in a queue must be bound to its submitter's async context (an
 * AsyncResource). Before AsyncContextFrame, an async context is carried only by async hooks
 * with an `init` callback (what AsyncLocalStorage, OpenTelemetry's context managers and
 * `createHook({ init })` install); while none is installed, Node tracks no promise, and an
 * AsyncResource carries nothing a task could read. A new promise says which: Node gives each
 * promise it tracks an async id. Asked per submission (a hook may be installed at any time);
 * ~50 ns, where binding costs ~90 ns and ~80 bytes per waiting task (bench/pool's targets).
 * When the key of that id cannot be found (another Node), every waiting task is bound.
 */
export function asyncContextInUse(): boolean {
  if (contextFrames) return true;
  asyncIdKey ??= findAsyncIdKey();
  return asyncIdKey === null || (Promise.resolve() as unknown as Record<symbol, unknown>)[asyncIdKey] !== undefined;
}

/** An AsyncResource made while no async context was in use: it carries none. */
let noContext: AsyncResource | undefined;

/**
 * The context a task that waits is bound to: its submitter's (a new AsyncResource) while
 * async context is in use, else the one shared resource that carries none; a task bound to it
 * runs without a context only if some is in use by the time it starts (`contextToEnter`).
 */
export function submitterContext(): AsyncResource {
  if (asyncContextInUse()) return new AsyncResource('dionysus.pool.task');
  noContext ??= new AsyncResource('dionysus.pool.task');
  return noContext;
}

/**
 * The context to start a task bound to `context` in: none when it is the shared empty one and
 * still no async context is in use; else `context` (so a task submitted before the first
 * AsyncLocalStorage was used does not start in the store of whichever task ended before it).
 */
export function contextToEnter(context: AsyncResource | undefined): AsyncResource | undefined {
  return context === undefined || (context === noContext && !asyncContextInUse()) ? undefined : context;
}
