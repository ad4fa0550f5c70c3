import type { Logger as PinoLogger } from 'pino';

/**
 * The pino logger of the running command, injectable by type. Its lines are
 * JSON with the app, command and pid, and trace ids when a span is active, on
 * stdout for http, grpc and ctl commands and on stderr for tasks (a task's
 * stdout is its own output).
 * @example
 * constructor(private readonly log: Logger) {}
 * this.log.info({ user }, 'signed in');
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the class is only a container token; the interface gives it pino's type
export abstract class Logger {}
export interface Logger extends PinoLogger {}

/** Bound to true by the tracing step when the OpenTelemetry SDK is on, so servers add spans. */
export const TRACING_ON = Symbol.for('dionysus.tracing.on');

/**
 * prom-client's `Registry` of the running command, as a token that costs no
 * import: the integrations' providers `inject` it, so declaring one (at
 * `--help`, say) never loads prom-client. Bound for every command run.
 */
export const REGISTRY = Symbol.for('dionysus.metrics.registry');
