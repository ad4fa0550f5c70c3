import { DionysusError } from '../errors.js';

/** Why a pool refused or gave up a task. */
export type PoolRefusal = 'full' | 'closed' | 'timeout' | 'dropped';

/**
 * A task the pool did not run to its end: the queue was full (non-blocking
 * submit), the pool was draining or stopped, a blocking submit found no room
 * in time, or the drain deadline passed while it waited or ran.
 */
export class PoolError extends DionysusError {
  override readonly name: string = 'PoolError';
  /** The pool's name, as in `taskPool(name)`. */
  readonly pool: string;
  readonly reason: PoolRefusal;

  constructor(pool: string, reason: PoolRefusal, message: string) {
    super(reason === 'timeout' ? 'timeout' : 'run', message);
    this.pool = pool;
    this.reason = reason;
  }
}

/** A non-blocking submit found the queue full. */
export class PoolFullError extends PoolError {
  override readonly name = 'PoolFullError';

  constructor(pool: string, running: number, waiting: number) {
    super(
      pool,
      'full',
      `pool '${pool}' is full (${running} running, ${waiting} waiting): retry later, raise dionysus.pool.${pool}.maxQueue or .size, or submit blocking (nonBlocking: false)`,
    );
  }
}

/** A blocking submit waited `submitTimeoutMs` without room in the queue. */
export class PoolTimeoutError extends PoolError {
  override readonly name = 'PoolTimeoutError';
  readonly timeoutMs: number;

  constructor(pool: string, timeoutMs: number) {
    super(
      pool,
      'timeout',
      `pool '${pool}' had no room for the task within ${timeoutMs} ms: raise dionysus.pool.${pool}.submitTimeoutMs, .maxQueue or .size`,
    );
    this.timeoutMs = timeoutMs;
  }
}

/** A submit after the pool began to drain, or after it stopped. */
export class PoolClosedError extends PoolError {
  override readonly name = 'PoolClosedError';

  constructor(pool: string, state: 'draining' | 'stopped') {
    super(pool, 'closed', `pool '${pool}' is ${state} and takes no new tasks`);
  }
}

/** A task still waiting or running when the drain deadline passed; its AbortSignal fired. */
export class PoolDroppedError extends PoolError {
  override readonly name = 'PoolDroppedError';

  /** `started`: whether it was running (undefined where the pool cannot tell, a CPU pool). */
  constructor(pool: string, started?: boolean) {
    const when = started === undefined ? '' : started ? ' while it ran' : ' before it started';
    super(
      pool,
      'dropped',
      `pool '${pool}' dropped the task${when}: the drain deadline passed (dionysus.pool.${pool}.drainTimeoutMs or the stop budget)`,
    );
  }
}
