import { DionysusError } from '../errors.js';

/**
 * A gRPC status for service methods: the client gets this code and message.
 * Any other thrown error becomes INTERNAL with a generic message.
 * @example
 * throw new GrpcError(status.NOT_FOUND, `no user ${id}`); // status from @grpc/grpc-js
 */
export class GrpcError extends DionysusError {
  override readonly name = 'GrpcError';
  readonly code: number;

  constructor(code: number, message: string, options: { cause?: unknown } = {}) {
    if (!Number.isInteger(code) || code < 1 || code > 16)
      throw new RangeError(`GrpcError code must be 1-16, got ${code}`);
    // The client always reads the message; `cause` stays in the logs.
    super('grpc', message, { expose: true, ...(options.cause === undefined ? {} : { cause: options.cause }) });
    this.code = code;
  }
}
