import { DionysusError } from '../errors.js';

export interface HttpErrorOptions {
  /** Whether the message reaches the client. @default status < 500 */
  expose?: boolean;
  /** A stable, machine-readable code the client gets, e.g. `TODO_EXISTS`. */
  code?: string;
  /** JSON the client gets as `details` (only when the message is exposed). */
  details?: unknown;
  /** What caused it: logged, never sent to the client. */
  cause?: unknown;
}

/**
 * An error with an HTTP status for route handlers. The client gets
 * `{ error: message, requestId, code?, details? }` when `expose` is true (the
 * default below 500); otherwise the status text only. `cause` is never sent.
 * @example
 * throw new HttpError(404, `no user ${id}`);
 * throw new HttpError(409, 'the todo exists already', { code: 'TODO_EXISTS', details: { id } });
 */
export class HttpError extends DionysusError {
  override readonly name: string = 'HttpError';
  readonly status: number;
  readonly code: string | undefined;
  readonly details: unknown;

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HttpError status must be 400-599, got ${status}`);
    }
    super('http', message, {
      expose: options.expose ?? status < 500,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.status = status;
    this.code = options.code;
    this.details = options.details;
  }

  /** What the client reads besides `error` and `requestId`. */
  publicFields(): Record<string, unknown> {
    if (!this.expose) return {};
    return {
      ...(this.code === undefined ? {} : { code: this.code }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** One problem with a request's input. */
export interface RequestIssue {
  /** Where the value came from. */
  readonly in: 'path' | 'query' | 'header' | 'body';
  /** Dotted path of the value, e.g. `items.0.qty`; the parameter's name for a single one. */
  readonly path: string;
  readonly message: string;
}

/**
 * A 400 listing every problem of a request's parameters, headers and body:
 * `{ error, requestId, issues: [{ in, path, message }] }`. The framework
 * throws it when a parameter decorator's schema rejects a value; throw it
 * yourself for checks of your own, and clients see one shape.
 */
export class RequestValidationError extends HttpError {
  override readonly name = 'RequestValidationError';
  readonly issues: readonly RequestIssue[];

  constructor(issues: readonly RequestIssue[], message = 'request validation failed') {
    super(400, message, { code: 'VALIDATION_FAILED' });
    this.issues = issues;
  }

  override publicFields(): Record<string, unknown> {
    return { ...super.publicFields(), issues: this.issues };
  }
}
