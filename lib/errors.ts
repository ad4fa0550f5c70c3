/**
 * One error family. `kind` says what failed: the app's decorators (`plan`),
 * its configuration (`config`), a call of a framework API with a bad
 * argument (`usage`), a lifecycle hook or the run (`hook`, `timeout`), work
 * the framework refused or gave up (`run`, e.g. a full task pool), the
 * framework itself (`internal`), or an answer a route or a gRPC method chose
 * for its client (`http`, `grpc`). `expose` says whether the message may be
 * shown to a client (HTTP/gRPC peers never see an unexposed message).
 */
export type ErrorKind = 'plan' | 'config' | 'usage' | 'hook' | 'timeout' | 'run' | 'internal' | 'http' | 'grpc';

export class DionysusError extends Error {
  override readonly name: string = 'DionysusError';
  readonly kind: ErrorKind;
  readonly expose: boolean;

  constructor(kind: ErrorKind, message: string, options: { cause?: unknown; expose?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.expose = options.expose ?? kind === 'usage';
  }
}

/** Everything wrong with the decorated classes, found at once. */
export class PlanError extends DionysusError {
  override readonly name = 'PlanError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const n = problems.length;
    super(
      'plan',
      `${n} problem${n === 1 ? '' : 's'} in the app's decorators:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

/** A lifecycle hook (or the run) that threw, rejected or missed its deadline. */
export class HookError extends DionysusError {
  override readonly name: string = 'HookError';
  /** `Class.method` */
  readonly hook: string;
  readonly phase: string;

  constructor(
    hook: string,
    phase: string,
    cause: unknown,
    message = `${hook} failed in ${phase}: ${messageOf(cause)}`,
    kind: ErrorKind = 'hook',
  ) {
    super(kind, message, { cause });
    this.hook = hook;
    this.phase = phase;
  }
}

export class HookTimeoutError extends HookError {
  override readonly name = 'HookTimeoutError';
  readonly timeoutMs: number;

  constructor(
    hook: string,
    phase: string,
    timeoutMs: number,
    message = `${hook} did not settle within ${timeoutMs} ms in ${phase}`,
  ) {
    super(hook, phase, undefined, message, 'timeout');
    this.timeoutMs = timeoutMs;
  }
}

/**
 * What went wrong, said once: the error's message, then each cause's message
 * that it does not already contain (`new Error(\`x: ${e.message}\`, { cause: e })`
 * is common, and pino's `messageWithCauses` would repeat it).
 */
export function messageOf(error: unknown): string {
  let text = ownMessage(error);
  const seen = new Set<unknown>([error]);
  for (let cause = causeOf(error); cause !== undefined && !seen.has(cause); cause = causeOf(cause)) {
    seen.add(cause);
    const more = ownMessage(cause);
    if (more && !text.includes(more)) text = text ? `${text}: ${more}` : more;
  }
  return text;
}

function ownMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
}

function causeOf(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}
