import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { readRecord } from '../../decorators/metadata.js';
import { AppConfig, bindConfiguration } from '../config/app-config.js';
import { LOG_LEVELS, type LogLevel } from '../config/defaults.js';
import { bindConstant } from '../container/container.js';
import { Health } from '../health/health.js';
import { dialHost, RuntimeInfo } from '../health/runtime.js';
import type { LifecycleEvent } from '../lifecycle/events.js';
import type { FrameworkStep, StepContext } from '../lifecycle/lifecycle.js';
import type { AdminServer } from './admin.js';
import type { LoggerHandle } from './logger.js';
import type { Metrics } from './metrics.js';
import { requestFields } from './request-context.js';
import { Logger, TRACING_ON } from './tokens.js';
import type { Tracing } from './tracing.js';

export interface TelemetryOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  /** Where a task's log lines go: its stdout is its own output (`app report --format json | jq`). */
  readonly stderr: NodeJS.WritableStream;
  /** Programmatic settings, merged over configuration (tests, embedding). */
  readonly overrides?: unknown;
  /** Turns tracing on with this exporter instead of OTLP/HTTP. */
  readonly spanExporter?: SpanExporter;
}

/** The post steps' order: spans first (they describe the rest), logs last. */
export const POST_ORDER = ['tracing', 'metrics', 'http', 'health', 'logger'];

/**
 * The framework steps every command gets: logger → config → tracing →
 * metrics. Each loads its libraries only when it starts, so `--help` and the
 * probes load none of them.
 */
export function telemetrySteps(options: TelemetryOptions): FrameworkStep[] {
  let log: LoggerHandle | undefined;
  // Every line logged while a request is handled carries its id; with tracing on, the trace ids too.
  let mixin: () => object = requestFields;
  let tracing: Tracing | undefined;
  let admin: AdminServer | undefined;
  let failed = false;
  /** Hooks that ended before the metrics step (logger, config, tracing): replayed into its histogram. */
  let earlyHooks: LifecycleEvent[] | undefined = [];

  const logger: FrameworkStep = {
    name: 'logger',
    start(context) {
      const { createLogger, logLifecycle } = require('./logger.js') as typeof import('./logger.js');
      const fromEnv = options.env.LOG_LEVEL as LogLevel | undefined;
      log = createLogger({
        app: context.plan.name,
        command: context.command.name,
        // The config step validates LOG_LEVEL; until then a bad value falls back to the default.
        level: fromEnv && LOG_LEVELS.includes(fromEnv) ? fromEnv : context.settings.log.level,
        // Servers log to stdout, as collectors expect; a task (no server) keeps stdout for what it prints.
        stream: context.command.server ? options.stdout : options.stderr,
        mixin: () => mixin(),
        flushIntervalMs: context.settings.log.flushIntervalMs,
      });
      const handle = log;
      context.events.on(untilConfigured(logLifecycle(handle.logger)));
      context.events.on((event) => {
        if (event.type === 'hook:end' && event.outcome !== 'ok') failed = true;
        if (event.type === 'hook:end') earlyHooks?.push(event);
        // The launcher may exit right after this event: write what is buffered now.
        if (event.type === 'exit') handle.flush();
      });
      bindConstant(context.container, Logger, handle.logger as unknown as Logger);
    },
    stop() {
      log?.close();
    },
  };

  const config: FrameworkStep = {
    name: 'config',
    start(context) {
      const { loadConfiguration } = require('../config/load.js') as typeof import('../config/load.js');
      const loaded = loadConfiguration(options.env, options.overrides);
      context.settings = loaded.settings;
      if (log) {
        log.logger.level = loaded.settings.log.level;
        log.setFlushInterval(loaded.settings.log.flushIntervalMs);
      }
      bindConfiguration(context.container, new AppConfig(loaded.values, loaded.sourceOf));
    },
  };

  const tracingStep: FrameworkStep = {
    name: 'tracing',
    start(context) {
      if (!options.spanExporter && !tracingEnabled(options.env, context.settings.tracing.enabled)) return;
      const { Tracing, activeTraceIds } = require('./tracing.js') as typeof import('./tracing.js');
      const { appVersion } = require('../cli/version.js') as typeof import('../cli/version.js');
      const active = new Tracing({
        app: context.plan.name,
        // The version `app --version` prints: declared on @Main, else the app's package.json.
        version: appVersion(context.plan.version),
        command: context.command.name,
        instrumentations: readRecord(context.plan.main)?.main?.telemetry?.instrumentations ?? [],
        env: options.env,
        ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
      });
      tracing = active;
      context.aroundHook = (hook, phase, fn) => active.aroundHook(hook, phase, fn);
      context.events.on((event) => active.observe(event));
      mixin = () => ({ ...requestFields(), ...activeTraceIds() });
      bindConstant(context.container, TRACING_ON, true);
    },
    async stop() {
      await tracing?.close(failed);
    },
  };

  const metrics: FrameworkStep = {
    name: 'metrics',
    async start(context) {
      const labels = { app: context.plan.name, command: context.command.name };
      const early = earlyHooks ?? [];
      earlyHooks = undefined;
      if (!context.command.server) {
        // A task serves no /metrics; prom-client (~30 ms) loads only if the app already uses it.
        if (promClientLoaded()) bindMetrics(context, () => newMetrics(labels));
        return;
      }
      const instance = newMetrics(labels);
      for (const event of early) instance.observe(event);
      context.events.on((event) => instance.observe(event));
      if (context.container.isBound(Health)) {
        context.container.get(Health).onCheck((probe, result) => {
          instance.healthCheckDuration.observe(
            { probe, check: result.name, status: result.status },
            result.durationMs / 1000,
          );
        });
      }
      bindMetrics(context, () => instance);
      const { AdminServer } = require('./admin.js') as typeof import('./admin.js');
      const settings = context.settings.admin;
      const events = context.events;
      admin = new AdminServer(instance.registry, {
        minIntervalMs: settings.minIntervalMs,
        profiles: {
          ...settings.profiles,
          controlToken: settings.controlToken,
          app: context.plan.name,
          stopping: () => events.state === 'stopping' || events.state === 'stopped',
          log: (level, fields, message) => log?.logger[level](fields, message),
        },
      });
      await admin.listen(context.settings.admin.port, context.settings.admin.host);
      bindConstant(context.container, AdminServer, admin);
      if (context.container.isBound(RuntimeInfo))
        context.container
          .get(RuntimeInfo)
          .set('admin', { host: dialHost(context.settings.admin.host), port: admin.port as number });
      log?.logger.info(
        { admin: { host: context.settings.admin.host, port: admin.port } },
        `admin server listening on ${context.settings.admin.host}:${admin.port} (GET /metrics)`,
      );
    },
    async stop() {
      await admin?.close();
    },
  };

  return [logger, config, tracingStep, metrics];
}

/**
 * Holds the events that come before the configuration is loaded (the logger
 * step's own, the config step's) and passes them on once it is, so that a
 * level set in a config file applies from the first line: the logger starts
 * before the config step and knows only LOG_LEVEL. When configuration fails,
 * they pass at the level the logger started with.
 */
function untilConfigured(listener: (event: LifecycleEvent) => void): (event: LifecycleEvent) => void {
  let held: LifecycleEvent[] | undefined = [];
  return (event) => {
    if (!held) return listener(event);
    held.push(event);
    const configured = event.type === 'hook:end' && event.hook === 'framework.config';
    if (!configured && event.type !== 'exit') return;
    const events = held;
    held = undefined;
    for (const e of events) listener(e);
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

/** Binds the Metrics class and prom-client's Registry (for users' own metrics) to one lazily built instance. */
function bindMetrics(context: StepContext, build: () => Metrics): void {
  const { Metrics } = require('./metrics.js') as typeof import('./metrics.js');
  const { Registry } = require('prom-client') as typeof import('prom-client');
  let instance: Metrics | undefined;
  const get = (): Metrics => (instance ??= build());
  for (const id of [Metrics, Registry]) if (context.container.isBound(id)) context.container.unbind(id);
  context.container.bind(Metrics).toDynamicValue(get);
  context.container.bind(Registry).toDynamicValue(() => get().registry);
}
