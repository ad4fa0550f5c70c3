// Types only: @redis/client is an optional peer dependency, required when a client is made.
import type { RedisClientOptions, RedisClientType, RedisClusterType, RedisSentinelType } from '@redis/client';
import type { Registry } from 'prom-client';
import { DionysusError } from '../errors.js';
import type { HealthCheck } from '../health/health.js';
import { type RedisSettings, redactUrl } from './settings.js';
import type { RedisMetrics } from './telemetry.js';

type Telemetry = typeof import('./telemetry.js');
// Loaded with a client: it loads prom-client and @opentelemetry/api.
const telemetry = (): Telemetry => require('./telemetry.js') as Telemetry;

/** The client's metric families on `registry` (shared by every client on it). */
export function redisMetrics(registry: Registry): RedisMetrics {
  return telemetry().redisMetrics(registry);
}

/** What `InjectRedis` gives: the node-redis client (a cluster or sentinel client where configured). */
export type Redis = RedisClientType | RedisClusterType | RedisSentinelType;

/** The argument of the health PING, so the telemetry can leave the client's own probes out. */
const HEALTH_PING = 'dionysus-health';

export interface RedisClientDeps {
  /** Where the client's metrics go (the command's registry); none: no metrics. */
  readonly registry?: Registry | undefined;
  /** Options passed to `createClient` under the ones the settings make, e.g. `{ RESP: 3 }`. */
  readonly clientOptions?: RedisClientOptions | undefined;
}

interface PingState {
  readonly ok: boolean;
  readonly error?: string;
}

/**
 * One node-redis client as a lifecycle component: `start` connects within the connect
 * timeout, a background PING on the connection feeds the cached `redis:<name>` checks,
 * `stop` closes within its bound and then destroys the connection (close must not hang
 * while Redis is down: https://github.com/redis/node-redis/issues/2723).
 */
export class RedisClient {
  readonly name: string;
  readonly settings: RedisSettings;
  /** The node-redis client this component owns. */
  readonly client: Redis;
  readonly #metrics: RedisMetrics | undefined;
  #state: PingState = { ok: false, error: 'the client has not started' };
  #timer: NodeJS.Timeout | undefined;
  #unobserve: (() => void) | undefined;
  #stopped: Promise<void> | undefined;
  /** When the PING still waiting for its reply was sent. */
  #unanswered: number | undefined;

  constructor(name: string, settings: RedisSettings, deps: RedisClientDeps = {}) {
    this.name = name;
    this.settings = settings;
    this.#metrics = deps.registry ? redisMetrics(deps.registry) : undefined;
    this.client = build(settings, deps.clientOptions);
    this.#watch();
  }

  /** Among independent parts, a client starts before the pools and closes after them, before the databases end. */
  readonly order = -10;

  /** `redis:<name>`, as the checks and messages call it. */
  get label(): string {
    return `redis:${this.name}`;
  }

  /** Whether the last PING (or the connection's last event) said the client works. */
  get healthy(): boolean {
    return this.#state.ok;
  }

  /** Connects within `connectTimeoutMs` (and before `deadline` aborts); fails naming the URL without its password. */
  async start(deadline?: AbortSignal): Promise<void> {
    const { connectTimeoutMs, url } = this.settings;
    const connecting = this.client.connect().then(() => undefined);
    let outcome: 'done' | 'timeout' | 'aborted' | 'failed';
    try {
      outcome = await within(connecting, connectTimeoutMs, deadline);
    } catch (error) {
      outcome = 'failed';
      this.#state = { ok: false, error: messageOf(error) };
    }
    if (outcome !== 'done') {
      if (this.client.isOpen) this.client.destroy();
      const why = {
        timeout: `did not connect within ${connectTimeoutMs} ms`,
        aborted: 'start was cancelled before connecting',
        failed: 'could not connect',
      }[outcome];
      const cause = this.#state.error ? ` (last error: ${this.#state.error})` : '';
      throw new DionysusError(
        'run',
        `${this.label}: ${why} to ${redactUrl(url)}${cause}; check dionysus.redis.${this.name}.url${this.name === 'main' ? ' (or REDIS_URL)' : ''} and that Redis is reachable, or raise connectTimeoutMs`,
        { expose: true, cause: outcome === 'timeout' ? undefined : deadline?.reason },
      );
    }
    await this.ping();
    this.#schedule();
  }

  /** Nothing to drain: the users' Shutdown and PostRun hooks still use Redis after the servers drained. */
  async drain(_deadline?: AbortSignal): Promise<void> {}

  /** Closes within `closeTimeoutMs` (or when `deadline` aborts), then destroys the connection. Idempotent. */
  stop(deadline?: AbortSignal): Promise<void> {
    this.#stopped ??= this.#stop(deadline);
    return this.#stopped;
  }

  async #stop(deadline?: AbortSignal): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#state = { ok: false, error: 'the client has stopped' };
    try {
      if (this.client.isOpen) {
        const closing = this.client.close().catch(() => {});
        if ((await within(closing, this.settings.closeTimeoutMs, deadline)) === 'done') return;
      }
    } finally {
      if (this.client.isOpen) this.client.destroy();
      this.#unobserve?.();
      this.#metrics?.ready.set({ client: this.name }, 0);
    }
  }

  /** One PING on the existing connection under `health.timeoutMs`; updates the cached state. */
  async ping(): Promise<void> {
    const { timeoutMs } = this.settings.health;
    // A PING still unanswered means a hung server: sending more would keep the socket busy, and
    // its idle timeout (commandTimeoutMs) is what rejects the commands waiting for replies.
    if (this.#unanswered !== undefined) {
      this.#state = { ok: false, error: `PING unanswered for ${Math.round(performance.now() - this.#unanswered)} ms` };
      return;
    }
    const args = ['PING', HEALTH_PING];
    const ping = (
      this.settings.mode === 'cluster'
        ? (this.client as RedisClusterType).sendCommand(undefined, true, args)
        : (this.client as RedisClientType).sendCommand(args)
    ) as Promise<unknown>;
    const sent = performance.now();
    this.#unanswered = sent;
    ping.then(
      () => this.#answered(sent),
      () => this.#answered(sent),
    );
    try {
      const outcome = await within(ping, timeoutMs);
      this.#state = outcome === 'done' ? { ok: true } : { ok: false, error: `PING timed out after ${timeoutMs} ms` };
    } catch (error) {
      this.#state = { ok: false, error: messageOf(error) };
    }
  }

  #answered(sent: number): void {
    if (this.#unanswered === sent) this.#unanswered = undefined;
  }

  /**
   * The `redis:<name>` checks for startup and readiness (never liveness). They read the
   * cached state of the background PING: a probe opens no connection and sends no command.
   * A non-critical client's checks never throw.
   */
  checks(): HealthCheck[] {
    const run = (): void => {
      const state = this.#state;
      if (!state.ok && this.settings.health.critical) throw new Error(`${this.label}: ${state.error}`);
    };
    return [
      { probe: 'startup', name: this.label, run },
      { probe: 'readiness', name: this.label, run },
    ];
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.ping().finally(() => this.#schedule());
    }, this.settings.health.intervalMs);
    this.#timer.unref();
  }

  #watch(): void {
    const client = this.client as RedisClientType;
    const labels = { client: this.name };
    const metrics = this.#metrics;
    const ready = (value: number): void => metrics?.ready.set(labels, value);
    ready(0);
    // node-redis throws an 'error' without a listener; each one is counted and fails the check at once.
    client.on('error', (error: unknown) => {
      this.#state = { ok: false, error: messageOf(error) };
      metrics?.errors.inc(labels);
    });
    client.on('ready', () => ready(1));
    client.on('end', () => ready(0));
    client.on('reconnecting', () => {
      ready(0);
      if (this.#state.ok) this.#state = { ok: false, error: 'the connection was lost; reconnecting' };
      metrics?.reconnects.inc(labels);
    });
    const id = (client as unknown as { _clientId?: string })._clientId;
    if (!metrics || id === undefined) return;
    // Histogram children by command, then outcome, made once each: a command costs one map lookup.
    type Child = { observe(seconds: number): void };
    const children = new Map<string, Partial<Record<'ok' | 'error' | 'timeout', Child>>>();
    this.#unobserve = telemetry().observeCommands(id, {
      ignore: (ctx) => ctx.command === 'PING' && ctx.args[1] === HEALTH_PING,
      record: (command, outcome, seconds) => {
        let byOutcome = children.get(command);
        if (!byOutcome) children.set(command, (byOutcome = {}));
        (byOutcome[outcome] ??= metrics.commandDuration.labels({ client: this.name, command, outcome })).observe(
          seconds,
        );
      },
    });
  }
}

function build(settings: RedisSettings, extra: RedisClientOptions | undefined): Redis {
  const { createClient, createCluster, createSentinel } = loadDriver();
  const { initialDelayMs, maxDelayMs } = settings.reconnect;
  const options: RedisClientOptions = {
    ...extra,
    url: settings.url,
    disableOfflineQueue: !settings.offlineQueue,
    commandsQueueMaxLength: settings.maxQueueLength,
    // Bounds a command's wait to be sent; `socketTimeout` bounds the wait for its reply (the
    // health PING keeps an idle connection from reaching it, see the settings' check).
    commandOptions: { ...extra?.commandOptions, timeout: settings.commandTimeoutMs },
    socket: {
      ...(extra?.socket as object),
      connectTimeout: settings.connectTimeoutMs,
      socketTimeout: settings.commandTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(initialDelayMs * 2 ** Math.min(retries, 20), maxDelayMs),
    },
  } as RedisClientOptions;
  if (settings.mode === 'cluster') {
    const nodes = settings.nodes.length > 0 ? settings.nodes : [settings.url];
    const { url: _url, ...defaults } = options;
    return createCluster({ rootNodes: nodes.map((url) => ({ url })), defaults }) as unknown as Redis;
  }
  if (settings.mode === 'sentinel') {
    const { url: _url, ...nodeClientOptions } = options;
    return createSentinel({
      name: settings.sentinelName,
      sentinelRootNodes: settings.nodes.map((url) => {
        const parsed = new URL(url);
        return { host: parsed.hostname, port: Number(parsed.port || 26379) };
      }),
      nodeClientOptions,
    } as Parameters<typeof createSentinel>[0]) as unknown as Redis;
  }
  return createClient(options) as unknown as Redis;
}

/** @redis/client, or an error saying how to install it. */
function loadDriver(): typeof import('@redis/client') {
  try {
    return require('@redis/client') as typeof import('@redis/client');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new DionysusError(
      'config',
      'dionysus/redis: a Redis client needs the @redis/client package; install it with `npm install @redis/client`',
      { cause: error, expose: true },
    );
  }
}

/** Waits for `work` at most `ms` (and until `signal` aborts): `done`, `timeout` or `aborted`; rethrows its error. */
async function within(
  work: Promise<unknown>,
  ms: number,
  signal?: AbortSignal,
): Promise<'done' | 'timeout' | 'aborted'> {
  if (signal?.aborted) return 'aborted';
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      work.then(() => 'done' as const),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), ms);
      }),
      new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.constructor.name;
  return String(error);
}
