import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request being handled, kept for the duration of its handler (and of
 * everything it awaits), so the lines a user logs with the injected Logger
 * carry its `requestId` without passing anything.
 */
const current = new AsyncLocalStorage<string>();

/** Runs `handle` as the handling of the request with this id. */
export function withRequest<T>(requestId: string, handle: () => T): T {
  return current.run(requestId, handle);
}

/** Fields for a log line: the request being handled, if any. A fresh object: pino's mixin merge writes into it. */
export function requestFields(): { requestId?: string } {
  const requestId = current.getStore();
  return requestId === undefined ? {} : { requestId };
}
