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
  /** process.stdout gets a buffered fd writer; any other stream is written directly (tests). */
  stream: NodeJS.WritableStream;
  /** Adds fields to every line, e.g. trace ids. */
  mixin?: () => object;
}

/**
 * pino with JSON lines on stdout, no transports (they break in bundles).
 * Lines are written synchronously, as pino does by default: nothing is lost on
 * `process.exit` or a crash, and lines keep their order with other output.
 */
export function createLogger(options: LoggerOptions): LoggerHandle {
  const destination =
    options.stream === process.stdout
      ? pino.destination({ dest: 1, sync: true })
      : (options.stream as unknown as DestinationStream);
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
  const flush = (): void => {
    if ('flushSync' in destination && typeof destination.flushSync === 'function') destination.flushSync();
  };
  return { logger, flush, close: flush };
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
