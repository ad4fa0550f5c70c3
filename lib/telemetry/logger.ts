import { writeSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/defaults.js';
import { DionysusError, HookError, HookTimeoutError } from '../errors.js';
import type { LifecycleEvent } from '../lifecycle/events.js';

export interface LoggerHandle {
  readonly logger: Logger;
  /** Writes what is buffered, synchronously: safe right before `process.exit`. */
  flush(): void;
  /** How long lines may wait in the buffer (config `dionysus.log.flushIntervalMs`); 0 writes once per event-loop turn. */
  setFlushInterval(ms: number): void;
  close(): void;
}

export interface LoggerOptions {
  app: string;
  command: string;
  level: LogLevel;
  /** process.stdout and process.stderr get a batched fd writer; any other stream is written directly (tests). */
  stream: NodeJS.WritableStream;
  /** Adds fields to every line, e.g. trace ids. */
  mixin?: () => object;
  /** See LoggerHandle.setFlushInterval. @default 10 */
  flushIntervalMs?: number;
}

/**
 * pino with JSON lines on a stream (stdout, or stderr for tasks), no
 * transports (they break in bundles).
 * Lines are buffered and written together at most `flushIntervalMs` later
 * (or once 64 KiB are waiting): one write per request was 17% of a busy
 * server's CPU, and one write per event-loop turn still ~5% of its
 * requests/s (bench/http-throughput). The buffer is written synchronously on
 * `exit` and by `flush()`, so nothing is lost on `process.exit`; lines keep
 * their order among themselves.
 */
export function createLogger(options: LoggerOptions): LoggerHandle {
  const fd = options.stream === process.stdout ? 1 : options.stream === process.stderr ? 2 : undefined;
  const batched = fd === undefined ? undefined : new BatchedFd(fd, options.flushIntervalMs ?? 10);
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
  return {
    logger,
    flush,
    close: flush,
    setFlushInterval: (ms) => {
      if (batched) batched.intervalMs = ms;
    },
  };
}

/**
 * Buffers writes to a file descriptor and writes them after `intervalMs` (0:
 * at the end of the event-loop turn), when the buffer is full, or at once on
 * flushSync. Lines are encoded straight into one reused buffer: joining them
 * into a string and encoding that copied every line twice, ~0.4 µs of a
 * request with the access log on (bench/http-throughput).
 */
class BatchedFd {
  static readonly CAPACITY = 64 * 1024;
  intervalMs: number;
  readonly #fd: number;
  readonly #buffer = Buffer.allocUnsafe(BatchedFd.CAPACITY);
  #length = 0;
  #pending: { unref(): unknown } | undefined;
  readonly #flush = (): void => {
    this.#pending = undefined;
    this.flushSync();
  };

  constructor(fd: number, intervalMs: number) {
    this.#fd = fd;
    this.intervalMs = intervalMs;
    process.on('exit', () => this.flushSync());
  }

  write(line: string): boolean {
    // A UTF-16 unit takes at most 3 bytes of UTF-8: room for that, and the line is written whole.
    if (this.#length + line.length * 3 > BatchedFd.CAPACITY) {
      this.flushSync();
      if (line.length * 3 > BatchedFd.CAPACITY) {
        this.#writeAll(Buffer.from(line));
        return true;
      }
    }
    this.#length += this.#buffer.write(line, this.#length);
    if (this.#pending === undefined) {
      // Unref'd: a pending write never keeps the process alive; the exit handler writes it.
      this.#pending = this.intervalMs > 0 ? setTimeout(this.#flush, this.intervalMs) : setImmediate(this.#flush);
      this.#pending.unref();
    }
    return true;
  }

  flushSync(): void {
    if (this.#length === 0) return;
    const length = this.#length;
    this.#length = 0;
    this.#writeAll(this.#buffer.subarray(0, length));
  }

  #writeAll(data: Buffer): void {
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
 * The part up to the second changes once a second and a busy server writes
 * dozens of lines per millisecond: the field is built once per millisecond.
 * Same output: `,"time":"2026-01-02T03:04:05.678Z"`.
 */
function isoTime(): () => string {
  let second = Number.NaN;
  let prefix = '';
  let last = Number.NaN;
  let field = '';
  return () => {
    const now = Date.now();
    if (now === last) return field;
    last = now;
    const ms = now % 1000;
    if (now - ms !== second) {
      second = now - ms;
      prefix = new Date(second).toISOString().slice(0, 20);
    }
    field = `,"time":"${prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
    return field;
  };
}

/**
 * Writes info lines with message `msg` whose fields are already serialised,
 * with the logger's level, time and base fields, in pino's own layout,
 * straight to its stream. For the per-request access log only: pino's
 * generic serialisation is ~4 µs of a request and the HTTP throughput target
 * (≥ 0.85× bare koa + router, bench/http-throughput) cannot afford it. No
 * mixin runs, so callers use it only when tracing is off (no trace ids to add).
 */
export function rawInfoWriter(logger: Logger, msg: string): (fields: string) => void {
  const time = isoTime();
  const target = logger as unknown as Record<symbol, unknown>;
  const stream = target[pino.symbols.streamSym] as { write(line: string): unknown };
  const bindings = target[pino.symbols.chindingsSym] as string;
  const end = `,"msg":${JSON.stringify(msg)}}\n`;
  return (fields) => {
    if (logger.levelVal > 30) return; // info is off
    stream.write(`{"level":"info"${time()}${bindings},${fields}${end}`);
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
        else if (event.error) logger.error({ ...fields, err: errorField(event.error) }, event.error.message);
        else logger.error(fields, `${event.hook} ${event.outcome}`);
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
      case 'runtime:write':
        if (event.error) {
          logger.error(
            { path: event.path, err: event.error },
            `cannot write runtime file ${event.path}: ${event.error.message}; probes may fail until it is written (retrying)`,
          );
        } else logger.info({ path: event.path }, `runtime file ${event.path} written again`);
        break;
      case 'listener:error': {
        const error = event.error instanceof Error ? event.error : new Error(String(event.error));
        logger.error(
          { during: event.during, err: error },
          `a lifecycle event listener failed on ${event.during}: ${error.message}`,
        );
        break;
      }
      default:
        break;
    }
  };
}

/**
 * An error as a log field that does not repeat the line's message (the
 * message says every cause once, see `messageOf`): its type and fields, the
 * type and fields of what a hook threw, and where that was thrown as stack
 * frames without the message. pino's own serializer would write the message
 * and each cause's message again in `message` and `stack`. Errors that say
 * all there is to say get no stack: bad configuration and other exposed
 * framework errors, and timeouts (their frames are the framework's).
 */
export function errorField(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: error === null ? 'null' : typeof error };
  const thrown = error instanceof HookError && error.cause !== undefined ? error.cause : error;
  const field: Record<string, unknown> = { type: error.name, ...plainFields(error) };
  if (thrown !== error) {
    field.cause = thrown instanceof Error ? { type: thrown.name, ...plainFields(thrown) } : { type: typeof thrown };
  }
  // A route's HttpError or a method's GrpcError is the user's: where it was thrown is worth a stack.
  const users = thrown instanceof DionysusError && (thrown.kind === 'http' || thrown.kind === 'grpc');
  const said = thrown instanceof DionysusError && !users && (thrown.expose || thrown instanceof HookTimeoutError);
  if (thrown instanceof Error && !said) {
    const frames = (thrown.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    if (frames.length > 0) field.stack = frames.map((line) => line.trim()).join('\n');
  }
  return field;
}

/** An error's own enumerable fields of plain values (`code`, `errno`, `hook`…), without its message, stack or cause. */
function plainFields(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === 'message' || key === 'stack' || key === 'cause' || key === 'expose') continue;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[key] = value;
  }
  return out;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
