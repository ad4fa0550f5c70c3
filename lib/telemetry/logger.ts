import { writeSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/defaults.js';
import type { LifecycleEvent } from '../lifecycle/events.js';

export interface LoggerHandle {
  readonly logger: Logger;
  /** Writes what is buffered, synchronously: safe right before `process.exit`. */
  flush(): void;
  close(): void;
}

export interface LoggerOptions {
  app: string;
  command: string;
  level: LogLevel;
  /** process.stdout gets a batched fd writer; any other stream is written directly (tests). */
  stream: NodeJS.WritableStream;
  /** Adds fields to every line, e.g. trace ids. */
  mixin?: () => object;
}

/**
 * pino with JSON lines on stdout, no transports (they break in bundles).
 * Lines are queued and written in one batch per event-loop turn: a busy
 * server's access log is then a few writes per turn instead of one write per
 * request, which was 17% of the server's CPU (bench/http-throughput). The
 * queue is written synchronously on `exit` and by `flush()`, so nothing is
 * lost on `process.exit`; lines keep their order among themselves.
 */
export function createLogger(options: LoggerOptions): LoggerHandle {
  const batched = options.stream === process.stdout ? new BatchedFd(1) : undefined;
  const destination = batched ?? (options.stream as unknown as DestinationStream);
  const logger = pino(
    {
      level: options.level,
      base: { app: options.app, command: options.command, pid: process.pid },
      timestamp: isoTime(),
      formatters: { level: (label) => ({ level: label }) },
      ...(options.mixin ? { mixin: options.mixin, mixinMergeStrategy: mergeMixin } : {}),
    },
    destination,
  );
  const flush = (): void => batched?.flushSync();
  return { logger, flush, close: flush };
}

/** Queues writes to a file descriptor and writes them once per event-loop turn, or at once on flushSync. */
class BatchedFd {
  readonly #fd: number;
  #queue: string[] = [];
  #scheduled = false;

  constructor(fd: number) {
    this.#fd = fd;
    process.on('exit', () => this.flushSync());
  }

  write(line: string): boolean {
    this.#queue.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flushSync();
      });
    }
    return true;
  }

  flushSync(): void {
    if (this.#queue.length === 0) return;
    let data = Buffer.from(this.#queue.join(''));
    this.#queue = [];
    for (let tries = 0; data.length > 0; ) {
      try {
        data = data.subarray(writeSync(this.#fd, data));
      } catch (error) {
        // A non-blocking pipe that is full: wait a moment for the reader, a bounded number of times.
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 1000) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  }
}

/**
 * pino's `isoTime` formats a Date for every line; the access log writes one
 * line per request, where that is ~2% of a request's CPU (bench/http-throughput).
 * The part up to the second changes once a second: only the milliseconds
 * are formatted per line. Same output: `,"time":"2026-01-02T03:04:05.678Z"`.
 */
function isoTime(): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const now = Date.now();
    const ms = now % 1000;
    if (now - ms !== second) {
      second = now - ms;
      prefix = new Date(second).toISOString().slice(0, 20);
    }
    return `,"time":"${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  };
}

/**
 * Writes info lines whose fields are already serialised, with the logger's
 * level, time and base fields, in pino's own layout, straight to its stream.
 * For the per-request access log only: pino's generic serialisation is ~4 µs
 * of a request and the HTTP throughput target (≥ 0.85× bare koa + router,
 * bench/http-throughput) cannot afford it. No mixin runs, so callers use it
 * only when tracing is off (no trace ids to add).
 */
export function rawInfoWriter(logger: Logger): (fields: string, msg: string) => void {
  const time = isoTime();
  const target = logger as unknown as Record<symbol, unknown>;
  const stream = target[pino.symbols.streamSym] as { write(line: string): unknown };
  const bindings = target[pino.symbols.chindingsSym] as string;
  return (fields, msg) => {
    if (logger.levelVal > 30) return; // info is off
    stream.write(`{"level":"info"${time()}${bindings},${fields},"msg":${JSON.stringify(msg)}}\n`);
  };
}

/**
 * pino's default merge copies every line's fields into the mixin's object,
 * also when the mixin adds nothing (no active span, tracing off): keep the
 * line's own object then.
 */
function mergeMixin(fields: object, extra: object): object {
  for (const _ in extra) return Object.assign(extra, fields);
  return fields;
}

/** Turns lifecycle events into log lines: each hook with its `Class.method`, duration and outcome. */
export function logLifecycle(logger: Logger): (event: LifecycleEvent) => void {
  return (event) => {
    switch (event.type) {
      case 'hook:end': {
        const fields = {
          phase: event.phase,
          hook: event.hook,
          durationMs: round(event.durationMs),
          outcome: event.outcome,
        };
        if (event.outcome === 'ok') logger.info(fields, `${event.hook} ok`);
        else logger.error({ ...fields, err: event.error }, event.error?.message ?? `${event.hook} ${event.outcome}`);
        break;
      }
      case 'phase:end': {
        const fields = { phase: event.phase, durationMs: round(event.durationMs), outcome: event.outcome };
        // The failing hook has its own error line; the phase summary only warns.
        if (event.outcome === 'ok') logger.info(fields, `${event.phase} ok`);
        else logger.warn(fields, `${event.phase} ${event.outcome}`);
        break;
      }
      case 'state':
        logger.info({ state: event.state }, `state ${event.state}`);
        break;
      case 'signal':
        if (event.forced) logger.warn({ signal: event.signal }, `second ${event.signal}: exiting at once`);
        else logger.info({ signal: event.signal }, `${event.signal} received: stopping`);
        break;
      case 'exit': {
        const fields = { code: event.code, durationMs: round(event.durationMs) };
        if (event.errors.length === 0) logger.info(fields, `exit ${event.code}`);
        else logger.error({ ...fields, errors: event.errors.map((e) => e.message) }, `exit ${event.code}`);
        break;
      }
      default:
        break;
    }
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
