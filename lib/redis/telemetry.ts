import { tracingChannel } from 'node:diagnostics_channel';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Counter, Gauge, type Registry } from 'prom-client';
import { FastHistogram } from '../telemetry/fast-histogram.js';
import { tracerProviderSet } from '../telemetry/tracer-set.js';

const DURATION = 'redis_client_command_duration_seconds';
const READY = 'redis_client_ready';
const RECONNECTS = 'redis_client_reconnects_total';
const ERRORS = 'redis_client_errors_total';

/** The metric families of the Redis clients on one registry, shared by every client on it. */
export interface RedisMetrics {
  /**
   * Commands by client, command name (never keys) and outcome (`ok`, `error`, `timeout`):
   * observed for every command, so a hand-written histogram (bench/redis's target; see FastHistogram).
   */
  readonly commandDuration: FastHistogram<'client' | 'command' | 'outcome'>;
  /** 1 while the client's connection is ready. */
  readonly ready: Gauge<'client'>;
  readonly reconnects: Counter<'client'>;
  /** Connection errors the client reported (command rejections are counted by outcome). */
  readonly errors: Counter<'client'>;
}

/** The Redis metric families on `registry`, made on first use. */
export function redisMetrics(registry: Registry): RedisMetrics {
  const existing = registry.getSingleMetric(DURATION);
  if (existing) {
    return {
      commandDuration: existing as unknown as FastHistogram<'client' | 'command' | 'outcome'>,
      ready: registry.getSingleMetric(READY) as Gauge<'client'>,
      reconnects: registry.getSingleMetric(RECONNECTS) as Counter<'client'>,
      errors: registry.getSingleMetric(ERRORS) as Counter<'client'>,
    };
  }
  const registers = [registry];
  return {
    commandDuration: new FastHistogram({
      name: DURATION,
      help: 'Duration of Redis commands by client, command name and outcome.',
      labelNames: ['client', 'command', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    ready: new Gauge({
      name: READY,
      help: 'Whether the Redis client is connected and ready (1) or not (0).',
      labelNames: ['client'],
      registers,
    }),
    reconnects: new Counter({
      name: RECONNECTS,
      help: 'Reconnection attempts of the Redis client.',
      labelNames: ['client'],
      registers,
    }),
    errors: new Counter({
      name: ERRORS,
      help: 'Connection errors reported by the Redis client.',
      labelNames: ['client'],
      registers,
    }),
  };
}

/** What node-redis publishes on `node-redis:command` (its tracing channel). */
interface CommandContext {
  command: string;
  args: readonly string[];
  database: number;
  serverAddress: string;
  serverPort: number | undefined;
  clientId: string;
  error?: unknown;
}

/** One client's side of the command channel. */
export interface CommandObserver {
  /** Commands the observer leaves alone (the client's own health PING). */
  ignore(command: CommandContext): boolean;
  /** The histogram child cache of the client: command name → outcome → observe. */
  record(command: string, outcome: 'ok' | 'error' | 'timeout', seconds: number): void;
}

interface InFlight {
  readonly observer: CommandObserver;
  readonly start: number;
  readonly span: Span | undefined;
}

const observers = new Map<string, CommandObserver>();
/** Where a command's own state rides: on node-redis's context object, made for that one command. */
const IN_FLIGHT = Symbol('dionysus.redis.command');
type Traced = CommandContext & { [IN_FLIGHT]?: InFlight };
let subscribed = false;

/**
 * Observes the commands of the node-redis client with `clientId`: a client span per command
 * (the command name only, never its arguments) and its duration. node-redis publishes every
 * command on one process-wide tracing channel; this subscribes once and routes by client id.
 * Returns the unsubscribe function.
 */
export function observeCommands(clientId: string, observer: CommandObserver): () => void {
  if (!subscribed) {
    subscribed = true;
    // Only the events read: a channel without subscribers costs its publisher nothing.
    const channel = tracingChannel<CommandContext>('node-redis:command');
    channel.start.subscribe(onStart);
    channel.asyncEnd.subscribe(onSettled);
  }
  observers.set(clientId, observer);
  return () => {
    if (observers.get(clientId) === observer) observers.delete(clientId);
  };
}

function onStart(message: unknown): void {
  const ctx = message as Traced;
  const observer = observers.get(ctx.clientId);
  if (!observer || observer.ignore(ctx)) return;
  ctx[IN_FLIGHT] = { observer, start: performance.now(), span: tracerProviderSet() ? startSpan(ctx) : undefined };
}

function startSpan(ctx: CommandContext): Span {
  const attributes: Record<string, string | number> = {
    'db.system.name': 'redis',
    'db.operation.name': ctx.command,
    'db.namespace': String(ctx.database),
    'server.address': ctx.serverAddress,
  };
  if (ctx.serverPort !== undefined) attributes['server.port'] = ctx.serverPort;
  // Looked up per span: a tracer provider set (or replaced) after this module loaded still applies.
  return trace.getTracer('dionysus').startSpan(ctx.command, { kind: SpanKind.CLIENT, attributes }, context.active());
}

function onSettled(message: unknown): void {
  const ctx = message as Traced;
  const flight = ctx[IN_FLIGHT];
  if (!flight) return;
  ctx[IN_FLIGHT] = undefined;
  const seconds = (performance.now() - flight.start) / 1000;
  const { error } = ctx;
  const outcome = error === undefined ? 'ok' : isTimeout(error) ? 'timeout' : 'error';
  const { span } = flight;
  if (span) {
    if (error !== undefined) {
      const name = error instanceof Error ? error.constructor.name : 'Error';
      span.setAttribute('error.type', name);
      // The error message of a reply can quote the command's arguments: the span keeps only its type.
      span.setStatus({ code: SpanStatusCode.ERROR, message: name });
    }
    span.end();
  }
  flight.observer.record(ctx.command, outcome, seconds);
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && /Timeout/i.test(error.name + error.constructor.name);
}
