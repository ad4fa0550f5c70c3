import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The framework's own configuration: the `dionysus` key of node-config. */
export interface FrameworkSettings {
  http: {
    /** `HTTP_PORT`; 0 picks an ephemeral port. @default 8080 */
    port: number;
    /** @default '0.0.0.0' */
    host: string;
  };
  grpc: {
    /** `GRPC_PORT`; 0 picks an ephemeral port. @default 9090 */
    port: number;
    /** @default '0.0.0.0' */
    host: string;
  };
  admin: {
    /** `ADMIN_PORT`: the metrics server of long-running commands; 0 picks an ephemeral port. @default 9464 */
    port: number;
    /** @default '0.0.0.0' */
    host: string;
  };
  log: {
    /** `LOG_LEVEL` @default 'info' */
    level: LogLevel;
  };
  /** `DIONYSUS_RUNTIME_DIR`: runtime descriptor and heartbeat; '' means `<os tmp>/dionysus-<app name>`. @default '' */
  runtimeDir: string;
  hooks: {
    /** Deadline of a PreRun/PostRun/Shutdown hook without its own `timeoutMs`. @default 15000 */
    timeoutMs: number;
  };
  shutdown: {
    /**
     * Wait between readiness failing and servers closing, so load balancers stop
     * routing first. @default 5000 inside Kubernetes (KUBERNETES_SERVICE_HOST set), else 0
     */
    drainDelayMs: number;
    /** Budget from the stop signal to the end of the Shutdown hooks; past it the stop is forced. @default 25000 */
    timeoutMs: number;
  };
}

/** The defaults, in one place; the README table is checked against this object. */
export function frameworkDefaults(env: NodeJS.ProcessEnv = process.env): FrameworkSettings {
  return {
    http: { port: 8080, host: '0.0.0.0' },
    grpc: { port: 9090, host: '0.0.0.0' },
    admin: { port: 9464, host: '0.0.0.0' },
    log: { level: 'info' },
    runtimeDir: '',
    hooks: { timeoutMs: 15_000 },
    shutdown: { drainDelayMs: env.KUBERNETES_SERVICE_HOST ? 5_000 : 0, timeoutMs: 25_000 },
  };
}

/** Where the runtime descriptor and heartbeat of an app live. */
export function runtimeDirOf(settings: FrameworkSettings, appName: string): string {
  return settings.runtimeDir || join(tmpdir(), `dionysus-${appName}`);
}
