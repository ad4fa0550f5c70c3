import {
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { expect } from 'chai';
import { Command, GrpcService, Main, PlanError, Run } from 'dionysus';
import { createTestContainer, startServer, type TestServer } from 'dionysus/testing';
import {
  GreeterService,
  type HelloReply,
  type HelloRequest,
  type HelloSlowRequest,
  type HelloStreamRequest,
} from '../../proto/gen/helloworld/helloworld.js';
import { logLines } from '../telemetry/log-lines.js';
import { clientsFor, closeClients, codeName, collect, failure, unary } from './clients.js';

// @GrpcService classes written the ways users write them (callback style,
// errors nobody mapped), a user's own grpc-js interceptor, and the plan
// errors a wrong `services` list gets.

const SECRET = 'password=hunter2 at db.internal:5432';

/** helloworld.Greeter again, implemented badly on purpose. */
@GrpcService(GreeterService)
class CallbackGreeter {
  /** Callback style: grpc-js' own signature. */
  sayHello(call: ServerUnaryCall<HelloRequest, HelloReply>, callback: sendUnaryData<HelloReply>): void {
    if (call.request.name === 'throw') throw new Error(SECRET);
    if (call.request.name === 'callback-error') {
      callback(new Error(SECRET));
      return;
    }
    setImmediate(() => callback(null, { message: `called back ${call.request.name}` }));
  }

  async sayHelloStream(call: ServerWritableStream<HelloStreamRequest, HelloReply>): Promise<void> {
    call.write({ message: 'first' });
    throw new TypeError(SECRET);
  }

  async sayHelloSlow(call: ServerUnaryCall<HelloSlowRequest, HelloReply>): Promise<HelloReply> {
    await new Promise((resolve) => setTimeout(resolve, call.request.delayMs));
    throw new RangeError(SECRET);
  }
}

const intercepted: string[] = [];

/** A user's grpc-js server interceptor: records each call's method and adds a response header. */
const tagCalls: ServerInterceptor = (method, call) => {
  intercepted.push(method.path);
  return new ServerInterceptingCall(call, {
    sendMetadata: (metadata, next) => {
      metadata.set('x-intercepted', 'yes');
      next(metadata);
    },
  });
};

@Command('grpc', { services: [CallbackGreeter], interceptors: [tagCalls] })
class GrpcCommand {}

@Main({ name: 'callback-app', commands: [GrpcCommand] })
class CallbackApp {}

describe('@GrpcService implementations', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    closeClients();
    await server?.stop();
    server = undefined;
    intercepted.length = 0;
  });

  async function serve() {
    server = await startServer(CallbackApp, 'grpc');
    return clientsFor(server.address);
  }

  /** Stops the server and returns what it logged at error level. */
  async function errorLines() {
    const result = await (server as TestServer).stop();
    server = undefined;
    return logLines(result.stdout).filter((line) => line.level === 'error');
  }

  it('serves a callback-style unary method', async () => {
    const { greeter } = await serve();
    const reply = await unary<HelloReply>((done) => greeter.sayHello({ name: 'x' }, done));
    expect(reply).to.deep.equal({ message: 'called back x' });
  });

  for (const [how, name] of [
    ['throws', 'throw'],
    ['passes the callback an error', 'callback-error'],
  ] as const) {
    it(`answers INTERNAL "internal error" when a method ${how}, and logs the real error`, async () => {
      const { greeter } = await serve();
      const error = await failure(unary((done) => greeter.sayHello({ name }, done)));
      expect(codeName(error.code)).to.equal('INTERNAL');
      expect(error.details).to.equal('internal error');
      expect(JSON.stringify(error)).to.not.include('hunter2');
      const errors = await errorLines();
      expect(errors.map((line) => line.msg)).to.deep.equal([`call failed: ${SECRET}`]);
      expect(errors[0]?.path).to.equal('/helloworld.Greeter/SayHello');
    });
  }

  it('answers INTERNAL when an async method rejects', async () => {
    const { greeter } = await serve();
    const error = await failure(unary((done) => greeter.sayHelloSlow({ name: 'x', delayMs: 10 }, done)));
    expect([codeName(error.code), error.details]).to.deep.equal(['INTERNAL', 'internal error']);
    expect((await errorLines()).map((line) => line.path)).to.deep.equal(['/helloworld.Greeter/SayHelloSlow']);
  });

  it('ends a server stream whose method throws with INTERNAL, after what it already sent', async () => {
    const { greeter } = await serve();
    const { messages, error } = await collect(greeter.sayHelloStream({ name: 'x', count: 1 }));
    expect(messages).to.deep.equal([{ message: 'first' }]);
    expect([codeName(error?.code ?? 0), error?.details]).to.deep.equal(['INTERNAL', 'internal error']);
    expect((await errorLines()).map((line) => line.path)).to.deep.equal(['/helloworld.Greeter/SayHelloStream']);
  });

  it("runs the user's grpc-js interceptors from @Command options", async () => {
    const { greeter } = await serve();
    const header = await new Promise<unknown>((resolve, reject) => {
      const call = greeter.sayHello({ name: 'x' }, (error) => error && reject(error));
      call.on('metadata', (metadata) => resolve(metadata.get('x-intercepted')[0]));
    });
    expect(header).to.equal('yes');
    expect(intercepted).to.include('/helloworld.Greeter/SayHello');
  });
});

describe('planning grpc services', () => {
  class NotAService {
    sayHello() {}
  }

  @GrpcService(GreeterService)
  class HalfGreeter {
    sayHello() {}
    sayHelloStream() {}
  }

  @Command('grpc', { services: [NotAService, HalfGreeter] })
  class BrokenGrpc {}

  @Command('http', { services: [HalfGreeter] })
  class HttpWithServices {}

  @Command('migrate', { services: [HalfGreeter] })
  class TaskWithServices {
    @Run()
    run(): void {}
  }

  @Main({ name: 'broken', commands: [BrokenGrpc, HttpWithServices, TaskWithServices] })
  class BrokenApp {}

  it('reports every misuse at once, naming the class and what to fix', () => {
    let caught: unknown;
    try {
      createTestContainer(BrokenApp);
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(PlanError);
    expect((caught as PlanError).problems).to.have.members([
      'NotAService: listed in services but has no @GrpcService(definition) decorator.',
      'HalfGreeter.sayHelloSlow: the service definition has /helloworld.Greeter/SayHelloSlow but the class has no sayHelloSlow method.',
      "HttpWithServices: services are served only by a grpc command; this command's server is http.",
      "TaskWithServices: services are served only by a grpc command; this command's server is none (a task).",
    ]);
  });
});
