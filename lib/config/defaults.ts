import { defaultRuntimeDir } from '../health/runtime-files.js';

// Defined with the probe's flags: the probe checks --timeout against it without loading this file.
export { MAX_TIMER_MS } from '../probe/files.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The framework's own configuration: the `dionysus` key of node-config. */
export interface FrameworkSettings {
  http: {
    /** `HTTP_PORT`; 0 picks an ephemeral port. @default 8080 */
    port: number;
    /** @default '0.0.0.0' */
    host: string;
    /** Largest JSON body accepted; larger gets 413. @default 1048576 (1 MB) */
    bodyLimitBytes: number;
    /** Idle keep-alive connections close after this; above common load balancers' idle timeouts. @default 65000 */
    keepAliveTimeoutMs: number;
    /** Time allowed to receive the request headers. @default 66000 */
    headersTimeoutMs: number;
    /** Time allowed to receive a whole request. @default 120000 */
    requestTimeoutMs: number;
    /** Share of requests with an access log line: 1 all, 0.1 one in ten, 0 none. @default 1 */
    accessLogSampleRate: number;
    /**
     * `DIONYSUS_CONTROL_TOKEN`: the /healthx switch routes require
     * `Authorization: Bearer <token>`, and only requests with it see the
     * checks' error messages; when empty the switch routes answer 403
     * (`HEALTH_STATUS=close app readiness` needs no token). @default ''
     */
    controlToken: string;
    openapi: {
      /**
       * Serve the http command's OpenAPI document (what `app openapi <command>` prints) with
       * `GET` at this path, e.g. `/openapi.json`, behind the command's middleware; '' serves
       * none. Built once, at the first request. @default ''
       */
      path: string;
    };
  };
  grpc: {
    /** `GRPC_PORT`; 0 picks an ephemeral port. @default 9090 */
    port: number;
    /** @default '0.0.0.0' */
    host: string;
    /** Largest message received; larger fails with RESOURCE_EXHAUSTED. @default 4194304 (4 MiB) */
    maxReceiveMessageBytes: number;
    /** Largest message sent. @default 4194304 (4 MiB) */
    maxSendMessageBytes: number;
    /** Server keepalive pings on idle connections, below common load balancers' idle timeouts. @default 60000 */
    keepaliveTimeMs: number;
    /** A ping unanswered this long closes the connection. @default 20000 */
    keepaliveTimeoutMs: number;
    /** Deadline of a call whose client sent none. @default 30000 */
    defaultDeadlineMs: number;
    /** Share of calls with an access log line: 1 all, 0 none. @default 1 */
    accessLogSampleRate: number;
    /**
     * `DIONYSUS_CONTROL_TOKEN`: HealthControl/SetSwitch requires metadata
     * `authorization: Bearer <token>`; when empty it answers PERMISSION_DENIED. @default ''
     */
    controlToken: string;
  };
  admin: {
    /** `ADMIN_PORT`: the metrics server of long-running commands; 0 picks an ephemeral port. @default 9464 */
    port: number;
    /** @default '0.0.0.0' */
    host: string;
    /**
     * /metrics renders the registry at most this often; scrapes in between,
     * and concurrent ones, get the last render (a scrape flood costs the
     * service little). 0 renders for every scrape, sharing a render in progress. @default 1000
     */
    minIntervalMs: number;
    /**
     * `DIONYSUS_CONTROL_TOKEN`: the /debug profile routes require
     * `Authorization: Bearer <token>`; when empty they answer 403. @default ''
     */
    controlToken: string;
    profiles: {
      /** The longest CPU profile or runtime report a request may ask for (`?seconds=`). @default 60 */
      maxSeconds: number;
      /** A heap snapshot is refused while the used heap is larger (a snapshot needs about as much again). @default 268435456 (256 MiB) */
      maxHeapBytes: number;
    };
  };
  log: {
    /** `LOG_LEVEL` @default 'info' */
    level: LogLevel;
    /**
     * How long log lines may wait to be written together; 0 writes them at
     * the end of each event-loop turn. Buffered lines are always written at exit.
     * @default 10
     */
    flushIntervalMs: number;
  };
  tracing: {
    /**
     * Export spans over OTLP/HTTP. Also on when `OTEL_EXPORTER_OTLP_ENDPOINT` or
     * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; `OTEL_SDK_DISABLED=true` or
     * `OTEL_TRACES_EXPORTER=none` turn it off. @default false
     */
    enabled: boolean;
  };
  health: {
    /** Deadline of a health check without its own `timeoutMs`. @default 1000 */
    checkTimeoutMs: number;
    /** Checks run at most this often; probes in between get the last results. @default 1000 */
    minIntervalMs: number;
    /** How often a ctl command refreshes its heartbeat file. @default 1000 */
    heartbeatIntervalMs: number;
    /** A heartbeat older than this many intervals is stale: the probe fails. @default 3 */
    staleAfterIntervals: number;
    /** Liveness fails when the event loop was blocked longer than this. @default 5000 */
    wedgedAfterMs: number;
    /**
     * Trust peers at 127.0.0.1 and ::1 like holders of the control token
     * (switch routes, error messages in reports). Behind a sidecar proxy every
     * peer is loopback: turn this on only where no proxy runs in the pod. @default false
     */
    trustLoopback: boolean;
  };
  /**
   * `DIONYSUS_RUNTIME_DIR`: runtime descriptor, heartbeat and control socket, in a directory of
   * this user's own (created 0700; refused when owned by another user, group/other-writable or a
   * symlink); '' means `$XDG_RUNTIME_DIR/dionysus-<app>` when set, else `<os tmp>/dionysus-<uid>-<app>`.
   * @default ''
   */
  runtimeDir: string;
  hooks: {
    /**
     * Deadline of a PreRun/PostRun/Shutdown hook without its own `timeoutMs`. After a signal a
     * hook also ends with the shutdown budget; set here, it must fit in what the budget leaves
     * after the drain delay. @default 15000
     */
    timeoutMs: number;
  };
  shutdown: {
    /**
     * Wait between readiness failing and servers closing, so load balancers stop
     * routing first. @default 5000 inside Kubernetes (KUBERNETES_SERVICE_HOST set), else 0
     */
    drainDelayMs: number;
    /**
     * Budget from the first stop signal to the exit: drain delay, drain, Shutdown and PostRun
     * hooks, telemetry flush; past it the stop is forced, what still runs is named, and the
     * exit code is 1. @default 25000
     */
    timeoutMs: number;
  };
}

/** The defaults, in one place; the README table is checked against this object. */
export function frameworkDefaults(env: NodeJS.ProcessEnv = process.env): FrameworkSettings {
  return {
    http: {
      port: 8080,
      host: '0.0.0.0',
      bodyLimitBytes: 1_048_576,
      keepAliveTimeoutMs: 65_000,
      headersTimeoutMs: 66_000,
      requestTimeoutMs: 120_000,
      accessLogSampleRate: 1,
      controlToken: '',
      openapi: { path: '' },
    },
    grpc: {
      port: 9090,
      host: '0.0.0.0',
      maxReceiveMessageBytes: 4_194_304,
      maxSendMessageBytes: 4_194_304,
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 20_000,
      defaultDeadlineMs: 30_000,
      accessLogSampleRate: 1,
      controlToken: '',
    },
    admin: {
      port: 9464,
      host: '0.0.0.0',
      minIntervalMs: 1_000,
      controlToken: '',
      profiles: { maxSeconds: 60, maxHeapBytes: 256 * 1024 * 1024 },
    },
    log: { level: 'info', flushIntervalMs: 10 },
    tracing: { enabled: false },
    health: {
      checkTimeoutMs: 1_000,
      minIntervalMs: 1_000,
      heartbeatIntervalMs: 1_000,
      staleAfterIntervals: 3,
      wedgedAfterMs: 5_000,
      trustLoopback: false,
    },
    runtimeDir: '',
    hooks: { timeoutMs: 15_000 },
    shutdown: { drainDelayMs: env.KUBERNETES_SERVICE_HOST ? 5_000 : 0, timeoutMs: 25_000 },
  };
}

/** Where the runtime files of an app live: per user unless configured (see `runtimeRoot`). */
export function runtimeDirOf(
  settings: Pick<FrameworkSettings, 'runtimeDir'>,
  appName: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return settings.runtimeDir || defaultRuntimeDir(appName, env);
}
