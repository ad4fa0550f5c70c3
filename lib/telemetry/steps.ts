import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Container } from 'inversify';
import type { Logger as PinoLogger } from 'pino';
import { readRecord } from '../../decorators/metadata.js';
import type { FrameworkSettings } from '../config/defaults.js';
import { bindConstant } from '../container/container.js';
import { messageOf } from '../errors.js';
import type { Health } from '../health/health.js';
import { dialHost, type RuntimeInfo } from '../health/runtime.js';
import type { Component } from '../lifecycle/component.js';
import type { LifecycleEvents } from '../lifecycle/events.js';
import type { AdminServer } from './admin.js';
import type { Metrics } from './metrics.js';
import { requestFields } from './request-context.js';
import { Logger, REGISTRY } from './tokens.js';
import type { Tracing } from './tracing.js';

export interface TelemetryOptions {
  readonly app: string;
  /** The @Main class: its `telemetry` options (instrumentations) go to the SDK. */
  readonly main: Function;
  readonly command: string;
  /** The version `app --version` prints, for spans. */
  readonly version: () => string | undefined;
  /** A server logs to stdout and serves /metrics; a task logs to stderr (its stdout is its own output). */
  readonly server: boolean;
  /** Loaded and validated before anything starts. */
  readonly settings: Pick<FrameworkSettings, 'log' | 'admin' | 'tracing'>;
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly events: LifecycleEvents;
  /** Where users' classes find the Logger, Metrics and prom-client's Registry. */
  readonly container: Container;
  /** Turns tracing on with this exporter instead of OTLP/HTTP. */
  readonly spanExporter?: SpanExporter;
}

/** What servers observe requests through: telemetry implements it. */
export interface Observer {
  readonly logger: PinoLogger;
  /** Request and call metrics; only servers have them. */
  readonly metrics: Metrics | undefined;
  /** Whether requests get spans. */
  readonly tracing: boolean;
}

export interface Telemetry {
  readonly observer: Observer;
  /** In start order: logger → tracing → metrics (the admin server; it needs the health checks to time them). */
  readonly logger: Component;
  readonly tracing: Component;
  metrics(health: Health, runtime: RuntimeInfo | undefined): Component;
  /** The span flush: last in the list, so the first framework part to stop. */
  readonly spans: Component;
}

/**
 * The logger, tracing and metrics of one command. The logger and a server's
 * metrics exist before the first component starts, so they see every event
 * from the first one; each library loads only when a command runs, so
 * `--help` and the probes load none of them.
 */
export function createTelemetry(options: TelemetryOptions): Telemetry {
  const { settings, events, container } = options;
  const { createLogger, errorField, logLifecycle } = require('./logger.js') as typeof import('./logger.js');
  // Every line logged while a request is handled carries its id; with tracing on, the trace ids too.
  let mixin: () => object = requestFields;
  const log = createLogger({
    app: options.app,
    command: options.command,
    level: settings.log.level,
    // Servers log to stdout, as collectors expect; a task (no server) keeps stdout for what it prints.
    stream: options.server ? options.stdout : options.stderr,
    mixin: () => mixin(),
    flushIntervalMs: settings.log.flushIntervalMs,
  });
  const tracingOn = Boolean(options.spanExporter) || tracingEnabled(options.env, settings.tracing.enabled);
  const labels = { app: options.app, command: options.command };
  // A task serves no /metrics: no histogram to fill, and prom-client (~30 ms) loads only if the app asks for it.
  const metrics = options.server ? newMetrics(labels) : undefined;
  if (metrics) events.on((event) => metrics.observe(event));

  const logger: Component = {
    name: 'logger',
    start() {
      events.on(logLifecycle(log.logger));
      // The launcher may exit right after this event: write what is buffered now.
      events.on((event) => event.type === 'exit' && log.flush());
      bindConstant(container, Logger, log.logger as unknown as Logger);
    },
    stop() {
      log.close();
    },
  };

  let active: Tracing | undefined;
  let failed = false;
  const tracing: Component = {
    name: 'tracing',
    start() {
      if (!tracingOn) return;
      const { Tracing, activeTraceIds } = require('./tracing.js') as typeof import('./tracing.js');
      const started = new Tracing({
        app: options.app,
        version: options.version(),
        command: options.command,
        instrumentations: readRecord(options.main)?.main?.telemetry?.instrumentations ?? [],
        env: options.env,
        ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
      });
      active = started;
      events.on((event) => {
        if (event.type === 'hook:end' && event.outcome !== 'ok') failed = true;
        started.observe(event);
      });
      mixin = () => ({ ...requestFields(), ...activeTraceIds() });
    },
    around: (hook, phase, fn) => (active ? active.aroundHook(hook, phase, fn) : fn()),
  };
  // The flush of spans, listed after the framework's other parts so it is the first of them to stop (the
  // spans describe the rest); after a signal it runs within the shutdown budget like every stop.
  // A collector that is down or refuses the export loses the spans, not the command's outcome: as OpenTelemetry
  // asks of telemetry, it never fails the app (a migration in an init container, a CronJob's task). It is logged.
  const spans: Component = {
    name: 'tracing',
    async stop() {
      try {
        await active?.close(failed);
      } catch (error) {
        log.logger.warn(
          { err: errorField(error) },
          `spans could not be exported: ${exportError(error)}; the command's outcome is unchanged`,
        );
      }
    },
  };

  const metricsComponent = (health: Health, runtime: RuntimeInfo | undefined): Component => {
    let admin: AdminServer | undefined;
    return {
      name: 'metrics',
      async start() {
        if (!metrics) {
          // A task's registry is made only if something asks for it (an integration's provider, a user's class).
          bindMetrics(container, () => newMetrics(labels), promClientLoaded());
          return;
        }
        health.onCheck((probe, result) => {
          metrics.healthCheckDuration.observe(
            { probe, check: result.name, status: result.status },
            result.durationMs / 1000,
          );
        });
        bindMetrics(container, () => metrics);
        const { AdminServer } = require('./admin.js') as typeof import('./admin.js');
        const { host, port, minIntervalMs, profiles, controlToken } = settings.admin;
        admin = new AdminServer(metrics.registry, {
          minIntervalMs,
          profiles: {
            ...profiles,
            controlToken,
            app: options.app,
            stopping: () => events.state === 'stopping' || events.state === 'stopped',
            log: (level, fields, message) => log.logger[level](fields, message),
          },
        });
        await admin.listen(port, host);
        bindConstant(container, AdminServer, admin);
        runtime?.set('admin', { host: dialHost(host), port: admin.port as number });
        log.logger.info(
          { admin: { host, port: admin.port } },
          `admin server listening on ${host}:${admin.port} (GET /metrics)`,
        );
      },
      async stop() {
        await admin?.close();
      },
    };
  };

  return {
    observer: { logger: log.logger, metrics, tracing: tracingOn },
    logger,
    tracing,
    metrics: metricsComponent,
    spans,
  };
}

/**
 * OpenTelemetry's standard variables decide, then configuration: an exporter
 * named (other than none) or an OTLP endpoint set turns tracing on.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv, configured: boolean): boolean {
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim());
  if (env.OTEL_SDK_DISABLED === 'true' || exporters.includes('none')) return false;
  return Boolean(
    configured ||
      exporters.some((name) => name !== '') ||
      env.OTEL_EXPORTER_OTLP_ENDPOINT ||
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
  );
}

/** Whether the app already loaded prom-client (a single executable has no module cache: then it is not). */
function promClientLoaded(): boolean {
  return Object.keys(require.cache ?? {}).some((path) => /[\\/]node_modules[\\/]prom-client[\\/]/.test(path));
}

function newMetrics(labels: { app: string; command: string }): Metrics {
  const { Metrics } = require('./metrics.js') as typeof import('./metrics.js');
  return new Metrics(labels);
}

/**
 * Binds the REGISTRY token and, with `classes`, the Metrics class and prom-client's Registry (for
 * users' own metrics, loading both) to one lazily built instance.
 */
function bindMetrics(container: Container, build: () => Metrics, classes = true): void {
  let instance: Metrics | undefined;
  const get = (): Metrics => (instance ??= build());
  if (container.isBound(REGISTRY)) container.unbind(REGISTRY);
  container.bind(REGISTRY).toDynamicValue(() => get().registry);
  if (!classes) return;
  const { Metrics } = require('./metrics.js') as typeof import('./metrics.js');
  const { Registry } = require('prom-client') as typeof import('prom-client');
  for (const id of [Metrics, Registry]) if (container.isBound(id)) container.unbind(id);
  container.bind(Metrics).toDynamicValue(get);
  container.bind(Registry).toDynamicValue(() => get().registry);
}

/** What an exporter rejected with: an Error, or the list of errors the SDK's shutdown collects. */
function exportError(error: unknown): string {
  const errors = Array.isArray(error) ? error : [error];
  return errors.map((e) => messageOf(e)).join('; ');
}
