import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { LifecycleEvent, LifecycleState } from '../lifecycle/events.js';
import { FastHistogram } from './fast-histogram.js';

const STATES: readonly LifecycleState[] = ['idle', 'starting', 'running', 'stopping', 'stopped'];
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The command's Prometheus registry and the framework's metric families.
 * Inject it (or prom-client's `Registry`) to add your own metrics.
 */
export class Metrics {
  readonly registry: Registry;
  /** Lifecycle hooks by phase, `Class.method` and outcome. */
  readonly hookDuration: Histogram<'phase' | 'hook' | 'outcome'>;
  /** 1 for the current lifecycle state, 0 for the others. */
  readonly lifecycleState: Gauge<'state'>;
  /** HTTP requests by method, route template (never the raw path) and status. */
  readonly httpRequestDuration: FastHistogram<'method' | 'route' | 'status_code'>;
  /** gRPC calls handled, by service, method and status code. */
  readonly grpcHandled: Counter<'grpc_service' | 'grpc_method' | 'grpc_code'>;
  /** gRPC call latency by service and method. */
  readonly grpcHandlingSeconds: Histogram<'grpc_service' | 'grpc_method'>;
  /** Health checks by probe, check name and status. */
  readonly healthCheckDuration: Histogram<'probe' | 'check' | 'status'>;

  constructor(labels: { app: string; command: string }, registry = new Registry()) {
    this.registry = registry;
    registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: registry });
    this.hookDuration = new Histogram({
      name: 'dionysus_lifecycle_hook_duration_seconds',
      help: 'Duration of lifecycle hooks and framework steps.',
      labelNames: ['phase', 'hook', 'outcome'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 15, 30],
      registers: [registry],
    });
    this.lifecycleState = new Gauge({
      name: 'dionysus_lifecycle_state',
      help: 'Current lifecycle state of the command (1 for the current state).',
      labelNames: ['state'],
      registers: [registry],
    });
    for (const state of STATES) this.lifecycleState.set({ state }, 0);
    this.httpRequestDuration = new FastHistogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP requests by route template.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed on the server, by status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
      registers: [registry],
    });
    this.grpcHandlingSeconds = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Duration of gRPC calls on the server.',
      labelNames: ['grpc_service', 'grpc_method'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.healthCheckDuration = new Histogram({
      name: 'dionysus_health_check_duration_seconds',
      help: 'Duration of health checks by probe, check and status.',
      labelNames: ['probe', 'check', 'status'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5],
      registers: [registry],
    });
  }

  /** Feeds the lifecycle metrics from the event stream. */
  observe(event: LifecycleEvent): void {
    if (event.type === 'hook:end') {
      this.hookDuration.observe(
        { phase: event.phase, hook: event.hook, outcome: event.outcome },
        event.durationMs / 1000,
      );
    } else if (event.type === 'state') {
      for (const state of STATES) this.lifecycleState.set({ state }, state === event.state ? 1 : 0);
    }
  }
}
