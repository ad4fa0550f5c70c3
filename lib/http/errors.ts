/**
 * An error with an HTTP status for route handlers. Its message reaches the
 * client when `expose` is true (the default below 500); otherwise the client
 * gets the status text only.
 * @example
 * throw new HttpError(404, `no user ${id}`);
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly expose: boolean;

  constructor(status: number, message: string, options: { expose?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HttpError status must be 400-599, got ${status}`);
    }
    this.status = status;
    this.expose = options.expose ?? status < 500;
  }
}
