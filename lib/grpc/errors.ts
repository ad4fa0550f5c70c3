/**
 * A gRPC status for service methods: the client gets this code and message.
 * Any other thrown error becomes INTERNAL with a generic message.
 * @example
 * throw new GrpcError(status.NOT_FOUND, `no user ${id}`); // status from @grpc/grpc-js
 */
export class GrpcError extends Error {
  override readonly name = 'GrpcError';
  readonly code: number;

  constructor(code: number, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!Number.isInteger(code) || code < 1 || code > 16)
      throw new RangeError(`GrpcError code must be 1-16, got ${code}`);
    this.code = code;
  }
}
