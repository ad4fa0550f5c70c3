import type { ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { GrpcError, GrpcService } from 'dionysus';
import {
  GreeterService,
  type HelloReply,
  type HelloRequest,
  type HelloSlowRequest,
  type HelloStreamRequest,
} from '../../../proto/gen/helloworld/helloworld.js';
import { Greeter } from '../greeter.js';

const INVALID_ARGUMENT = 3;

/** helloworld.Greeter: the canonical SayHello, a server stream and a slow call for drain tests. */
@GrpcService(GreeterService)
export class GreeterGrpc {
  constructor(private readonly greeter: Greeter) {}

  async sayHello(call: ServerUnaryCall<HelloRequest, HelloReply>): Promise<HelloReply> {
    return { message: this.greeter.greet(call.request.name || 'world') };
  }

  async sayHelloStream(call: ServerWritableStream<HelloStreamRequest, HelloReply>): Promise<void> {
    const { name, count } = call.request;
    if (count > 1000) throw new GrpcError(INVALID_ARGUMENT, 'count must be at most 1000');
    for (let i = 1; i <= count; i++) call.write({ message: `${this.greeter.greet(name || 'world')} #${i}` });
  }

  async sayHelloSlow(call: ServerUnaryCall<HelloSlowRequest, HelloReply>): Promise<HelloReply> {
    const { name, delayMs } = call.request;
    if (delayMs > 60_000) throw new GrpcError(INVALID_ARGUMENT, 'delay_ms must be at most 60000');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { message: this.greeter.greet(name || 'world') };
  }
}
