import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  status,
  type UntypedHandleCall,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { messageOf } from '../errors.js';
import type { GrpcMethodPlan } from '../plan/types.js';
import { errorField } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { GrpcError } from './errors.js';

export interface CallOptions {
  readonly logger: Logger;
  readonly metrics: Metrics | undefined;
  readonly defaultDeadlineMs: number;
  readonly accessLogSampleRate: number;
  readonly tracing: boolean;
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;
type Traced = (call: AnyCall, path: string, run: () => void) => (code: number) => void;

const CODE_NAMES = Object.fromEntries(Object.entries(status).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;

/**
 * Wraps each service method once, at registration: error recovery, a
 * default deadline, access log, metrics and span per call. One wrapper
 * rather than a chain of grpc-js interceptors: whatever runs per call is on
 * the hot path. Users' own grpc-js interceptors still run (server option).
 */
export function wrapMethod(
  service: string,
  method: GrpcMethodPlan,
  implementation: (...args: unknown[]) => unknown,
  options: CallOptions,
): UntypedHandleCall {
  const name = method.path.split('/')[2] ?? method.name;
  const observe = observer(service, name, options);
  const traced: Traced | undefined = options.tracing
    ? (require('./trace.js') as typeof import('./trace.js')).traceCall
    : undefined;
  if (!method.requestStream && !method.responseStream) {
    const unary: handleUnaryCall<unknown, unknown> = (call, callback) => {
      const start = performance.now();
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let endSpan: ((code: number) => void) | undefined;
      const finish = (error: unknown, value?: unknown): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        const failure = error == null ? undefined : toStatus(error, options.logger, method.path);
        observe(failure?.code ?? status.OK, start);
        endSpan?.(failure?.code ?? status.OK);
        callback(failure ?? null, value);
      };
      // The client gave up (its deadline, a cancel): log and count what it got, not the late reply.
      call.once('cancelled', () => finish(abandoned(call)));
      if (call.getDeadline() === Number.POSITIVE_INFINITY) {
        timer = setTimeout(
          () =>
            finish({
              code: status.DEADLINE_EXCEEDED,
              details: `no reply within the server's default deadline of ${options.defaultDeadlineMs} ms`,
            }),
          options.defaultDeadlineMs,
        );
      }
      const run = (): void => {
        try {
          if (implementation.length >= 2) implementation(call, finish);
          else Promise.resolve(implementation(call)).then((value) => finish(null, value), finish);
        } catch (error) {
          finish(error);
        }
      };
      if (traced) endSpan = traced(call, method.path, run);
      else run();
    };
    return unary as UntypedHandleCall;
  }
  if (!method.requestStream && method.responseStream) {
    const streaming: handleServerStreamingCall<unknown, unknown> = (call) => {
      const start = performance.now();
      let settled = false;
      let endSpan: ((code: number) => void) | undefined;
      const finish = (error: unknown): void => {
        if (settled) return;
        settled = true;
        if (error == null) {
          observe(status.OK, start);
          endSpan?.(status.OK);
          if (!call.writableEnded) call.end();
          return;
        }
        const failure = toStatus(error, options.logger, method.path);
        observe(failure.code, start);
        endSpan?.(failure.code);
        call.emit('error', failure);
      };
      call.once('cancelled', () => finish(abandoned(call)));
      const run = (): void => {
        try {
          const result = implementation(call);
          if (result && typeof (result as Promise<unknown>).then === 'function') {
            (result as Promise<unknown>).then(() => finish(null), finish);
          } else {
            call.once('finish', () => finish(null));
          }
        } catch (error) {
          finish(error);
        }
      };
      if (traced) endSpan = traced(call, method.path, run);
      else run();
    };
    return streaming as UntypedHandleCall;
  }
  // Client and bidirectional streams: handed over as they are, observed when they end.
  return ((call: ServerWritableStream<unknown, unknown>, ...rest: unknown[]) => {
    const start = performance.now();
    call.once('finish', () => observe(status.OK, start));
    call.once('error', (error: ServiceError) => observe(error.code ?? status.UNKNOWN, start));
    return implementation(call, ...rest);
  }) as UntypedHandleCall;
}

/**
 * The server counts a client's deadline from when the call's headers arrived,
 * so the cancel a client sends at its own deadline can land a few ms before
 * the server's copy of it (up to 3 ms measured on loopback; more under load,
 * where the code is a best guess, as in grpc-go).
 */
const DEADLINE_SLACK_MS = 20;

/** The status a client got when it left before the reply: its deadline passed, or it cancelled. */
function abandoned(call: AnyCall): { code: number; details: string } {
  return Number(call.getDeadline()) - Date.now() <= DEADLINE_SLACK_MS
    ? { code: status.DEADLINE_EXCEEDED, details: "the client's deadline passed" }
    : { code: status.CANCELLED, details: 'cancelled by the client' };
}

function observer(service: string, method: string, options: CallOptions): (code: number, start: number) => void {
  const { metrics, logger, accessLogSampleRate } = options;
  const handled = new Map<number, { inc(): void }>();
  const latency = metrics?.grpcHandlingSeconds.labels({ grpc_service: service, grpc_method: method });
  return (code, start) => {
    const seconds = (performance.now() - start) / 1000;
    if (metrics) {
      let counter = handled.get(code);
      if (!counter) {
        counter = metrics.grpcHandled.labels({
          grpc_service: service,
          grpc_method: method,
          grpc_code: CODE_NAMES[code] ?? String(code),
        });
        handled.set(code, counter);
      }
      counter.inc();
      latency?.observe(seconds);
    }
    if (accessLogSampleRate >= 1 || (accessLogSampleRate > 0 && Math.random() < accessLogSampleRate)) {
      logger.info({ service, method, code: CODE_NAMES[code] ?? code, durationMs: seconds * 1000 }, 'call');
    }
  };
}

/** A user's status error keeps its code and message; anything else is INTERNAL with a generic message. */
export function toStatus(
  error: unknown,
  logger: Logger,
  path: string,
): { code: number; details: string; metadata: Metadata } {
  // A status the user meant for the client: a GrpcError, or grpc-js's own { code, details } shape.
  // Other errors with a numeric code (a driver's) must not leak their message.
  const e = error as { code?: unknown; details?: unknown; message?: unknown } | null;
  const isStatus = error instanceof GrpcError || (e !== null && typeof e === 'object' && typeof e.details === 'string');
  if (isStatus && typeof e?.code === 'number' && e.code >= 1 && e.code <= 16) {
    const details = typeof e.details === 'string' ? e.details : typeof e.message === 'string' ? e.message : '';
    return { code: e.code, details, metadata: new Metadata() };
  }
  logger.error({ err: errorField(error), path }, `call failed: ${messageOf(error)}`);
  return { code: status.INTERNAL, details: 'internal error', metadata: new Metadata() };
}
