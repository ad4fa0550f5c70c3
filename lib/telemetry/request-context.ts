import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request being handled, kept for the duration of its handler (and of
 * everything it awaits), so the lines a user logs with the injected Logger
 * carry its `requestId` without passing anything.
 *
 * On Node 20 an enabled AsyncLocalStorage turns on promise hooks and
 * async_hooks for the whole process: every promise, tick and socket write of
 * every request pays, ~50 % more instructions on a GET /hello
 * (bench/http-throughput), whether or not that request logs. So the storage
 * is on only while a request that can log is being handled, and off again
 * when the last one ends: a route that cannot log costs nothing more while no
 * route that can is busy. (Promise hooks alone, without the storage, cost
 * ~40 % of that: no hand-written carrier on Node 20 is cheap.)
 */
const current = new AsyncLocalStorage<string>();
/** Requests running inside the storage now. */
let handling = 0;

function handled(): void {
  // The last one: no line is logged on a request's behalf until the next one enters.
  if (--handling === 0) current.disable();
}

/** Runs `handle` as the handling of the request with this id, until the promise it returns settles. */
export function withRequest<T>(requestId: string, handle: () => Promise<T>): Promise<T> {
  handling++;
  let result: Promise<T>;
  try {
    result = current.run(requestId, handle);
  } catch (error) {
    handled();
    throw error;
  }
  return result.then(
    (value) => {
      handled();
      return value;
    },
    (error: unknown) => {
      handled();
      throw error;
    },
  );
}

/** Fields for a log line: the request being handled, if any. A fresh object: pino's mixin merge writes into it. */
export function requestFields(): { requestId?: string } {
  const requestId = current.getStore();
  return requestId === undefined ? {} : { requestId };
}
