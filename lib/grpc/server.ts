import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger as PinoLogger } from 'pino';
import { HealthControlService } from '../../proto/gen/dionysus/health/v1/control.js';
import { HealthService as HealthDefinition } from '../../proto/gen/grpc/health/v1/health.js';
import type { FrameworkSettings } from '../config/defaults.js';
import { listenError } from '../config/listen.js';
import type { Health } from '../health/health.js';
import { dialHost, type RuntimeInfo } from '../health/runtime.js';
import type { RunContext, RunHandle, ServerRunner } from '../lifecycle/runner.js';
import { type CallOptions, wrapMethod } from './calls.js';
import { HealthService, healthControl } from './health.js';

export interface GrpcServerOptions {
  readonly settings: Pick<FrameworkSettings, 'grpc' | 'health'>;
  /** The logger, call metrics and tracing flag (telemetry implements it). */
  readonly observer: Pick<CallOptions, 'logger' | 'metrics' | 'tracing'>;
  readonly health: Health;
  /** Where the bound port is recorded for the probes. */
  readonly runtime: RuntimeInfo | undefined;
}

/** Serves the command's @GrpcService classes plus health and control; stops gracefully on drain. */
export function grpcRunner({ settings, observer, health, runtime }: GrpcServerOptions): ServerRunner {
  return {
    label: 'grpc server',
    async start(context: RunContext): Promise<RunHandle> {
      const { container, command } = context;
      const grpc = settings.grpc;
      const logger = observer.logger as PinoLogger;
      const server = new Server({
        'grpc.max_receive_message_length': grpc.maxReceiveMessageBytes,
        'grpc.max_send_message_length': grpc.maxSendMessageBytes,
        'grpc.keepalive_time_ms': grpc.keepaliveTimeMs,
        'grpc.keepalive_timeout_ms': grpc.keepaliveTimeoutMs,
        'grpc.keepalive_permit_without_calls': 1,
        // Accept client keepalive pings every 10 s without a GOAWAY (grpc-go/java clients ping this often).
        'grpc.http2.min_ping_interval_without_data_ms': 10_000,
        ...(Array.isArray(command.extra.interceptors) ? { interceptors: command.extra.interceptors as never[] } : {}),
      });
      const options = {
        logger,
        metrics: observer.metrics,
        defaultDeadlineMs: grpc.defaultDeadlineMs,
        accessLogSampleRate: grpc.accessLogSampleRate,
        tracing: observer.tracing,
      };
      for (const service of command.services) {
        const instance = (await container.getAsync(service.cls)) as Record<string, (...args: unknown[]) => unknown>;
        const implementation = Object.fromEntries(
          service.methods.map((m) => [
            m.name,
            wrapMethod(
              service.service,
              m,
              (instance[m.name] as (...args: unknown[]) => unknown).bind(instance),
              options,
            ),
          ]),
        );
        server.addService(service.definition as never, implementation);
      }
      const access = { token: grpc.controlToken, trustLoopback: settings.health.trustLoopback };
      const healthService = new HealthService(
        health,
        command.services.map((s) => s.service),
        settings.health.minIntervalMs,
        access,
      );
      server.addService(HealthDefinition, healthService.implementation);
      server.addService(HealthControlService, healthControl(health, access, logger));

      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${hostOf(grpc.host)}:${grpc.port}`, ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(listenError('grpc', grpc.host, grpc.port, error)) : resolve(bound),
        ),
      );
      runtime?.set('grpc', { host: dialHost(grpc.host), port });
      logger.info({ grpc: { host: grpc.host, port } }, `grpc server listening on ${grpc.host}:${port}`);

      let stopped!: () => void;
      const ended = new Promise<void>((resolve) => {
        stopped = resolve;
      });
      return {
        ended,
        async drain(deadline: AbortSignal): Promise<void> {
          // Watchers saw NOT_SERVING when the stop began; their streams would hold tryShutdown open.
          healthService.endWatches();
          const graceful = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
          const spent = new Promise<'spent'>((resolve) =>
            deadline.addEventListener('abort', () => resolve('spent'), { once: true }),
          );
          if ((await Promise.race([graceful, spent])) === 'spent') {
            logger.warn('shutdown budget spent: cancelling calls in flight');
            server.forceShutdown();
          }
          stopped();
        },
        close() {
          healthService.endWatches();
          server.forceShutdown();
          stopped();
        },
      };
    },
  };
}

function hostOf(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
