import { Metadata } from '@grpc/grpc-js';
import { expect } from 'chai';
import { startServer, type TestServer } from 'dionysus/testing';
import type { HelloReply } from '../../proto/gen/helloworld/helloworld.js';
import { App } from '../../samples/app/app.js';
import { parseExposition, samplesOf } from '../telemetry/exposition.js';
import { logLines } from '../telemetry/log-lines.js';
import {
  type Clients,
  clientsFor,
  closeClients,
  codeName,
  collect,
  eventually,
  failure,
  unary,
  within,
} from './clients.js';

// How to test a grpc command: `startServer(App, 'grpc')` runs it in-process
// on ephemeral ports, a real grpc-js client calls `server.address`, and
// `server.stop()` sends SIGTERM and resolves with everything it logged.
describe('the sample grpc command, in-process', () => {
  const print = console.log;
  let server: TestServer | undefined;

  beforeEach(() => {
    console.log = () => {}; // the sample's own hooks print to the console
  });

  afterEach(async () => {
    closeClients();
    await server?.stop();
    server = undefined;
    console.log = print;
  });

  async function serve(options: Parameters<typeof startServer>[2] = {}): Promise<Clients> {
    server = await startServer(App, 'grpc', options);
    return clientsFor(server.address);
  }

  it('answers the unary SayHello', async () => {
    const { greeter } = await serve();
    const reply = await unary<HelloReply>((done) => greeter.sayHello({ name: 'x' }, done));
    expect(reply).to.deep.equal({ message: 'hello x' });
  });

  it('streams SayHelloStream: count 3 sends three messages, then ends with OK', async () => {
    const { greeter } = await serve();
    const { messages, error } = await collect(greeter.sayHelloStream({ name: 'x', count: 3 }));
    expect(error).to.equal(undefined);
    expect(messages).to.deep.equal([{ message: 'hello x #1' }, { message: 'hello x #2' }, { message: 'hello x #3' }]);
  });

  it("keeps a GrpcError's code and message: count 5000 is INVALID_ARGUMENT", async () => {
    const { greeter } = await serve();
    const { messages, error } = await collect(greeter.sayHelloStream({ name: 'x', count: 5000 }));
    expect(messages).to.deep.equal([]);
    expect(codeName(error?.code ?? 0)).to.equal('INVALID_ARGUMENT');
    expect(error?.details).to.equal('count must be at most 1000');
  });

  it("ends a call at the client's deadline with DEADLINE_EXCEEDED", async () => {
    const { greeter } = await serve();
    const started = performance.now();
    const error = await failure(
      unary((done) => greeter.sayHelloSlow({ name: 'x', delayMs: 1000 }, new Metadata(), within(100), done)),
    );
    expect(codeName(error.code)).to.equal('DEADLINE_EXCEEDED');
    expect(performance.now() - started).to.be.below(800);
  });

  it('applies the default deadline when the client sends none, and says so', async () => {
    const { greeter } = await serve({ settings: { grpc: { defaultDeadlineMs: 200 } } });
    const started = performance.now();
    const error = await failure(unary((done) => greeter.sayHelloSlow({ name: 'x', delayMs: 1000 }, done)));
    const elapsed = performance.now() - started;
    expect(codeName(error.code)).to.equal('DEADLINE_EXCEEDED');
    expect(error.details).to.equal("no reply within the server's default deadline of 200 ms");
    expect(elapsed).to.be.within(190, 800);
  });

  it('refuses a message over grpc.maxReceiveMessageBytes with RESOURCE_EXHAUSTED', async () => {
    const { greeter } = await serve({ settings: { grpc: { maxReceiveMessageBytes: 100 } } });
    const error = await failure(unary((done) => greeter.sayHello({ name: 'x'.repeat(1024) }, done)));
    expect(codeName(error.code)).to.equal('RESOURCE_EXHAUSTED');
    // A small message still passes.
    expect(await unary<HelloReply>((done) => greeter.sayHello({ name: 'x' }, done))).to.deep.equal({
      message: 'hello x',
    });
  });

  /** `grpc_server_handled_total` of helloworld.Greeter for one method and code, scraped from the admin server. */
  async function handled(method: string, code: string): Promise<number[]> {
    const res = await fetch(`http://127.0.0.1:${server?.adminPort}/metrics`);
    expect(res.status).to.equal(200);
    const labels = { grpc_service: 'helloworld.Greeter', grpc_method: method, grpc_code: code };
    return samplesOf(parseExposition(await res.text()), 'grpc_server_handled_total', labels).map((s) => s.value);
  }

  it('counts calls in grpc_server_handled_total by service, method and code on /metrics', async () => {
    const { greeter } = await serve();
    await unary((done) => greeter.sayHello({ name: 'a' }, done));
    await unary((done) => greeter.sayHello({ name: 'b' }, done));
    await collect(greeter.sayHelloStream({ name: 'x', count: 5000 }));
    expect(await handled('SayHello', 'OK')).to.deep.equal([2]);
    expect(await handled('SayHelloStream', 'INVALID_ARGUMENT')).to.deep.equal([1]);
    const res = await fetch(`http://127.0.0.1:${server?.adminPort}/metrics`);
    const latency = samplesOf(parseExposition(await res.text()), 'grpc_server_handling_seconds_count', {
      grpc_service: 'helloworld.Greeter',
      grpc_method: 'SayHello',
    });
    expect(latency.map((s) => s.value)).to.deep.equal([2]);
  });

  it('logs one access line per call with service, method, the code the client got, and duration', async () => {
    const { greeter } = await serve();
    await unary((done) => greeter.sayHello({ name: 'x' }, done));
    await collect(greeter.sayHelloStream({ name: 'x', count: 5000 }));
    const call = greeter.sayHelloSlow({ name: 'x', delayMs: 1000 }, () => {});
    setTimeout(() => call.cancel(), 50);
    // Logged when the client leaves, not when the abandoned handler finishes a second later.
    await eventually(async () => (await handled('SayHelloSlow', 'CANCELLED')).length === 1, 'the cancel');

    const result = await (server as TestServer).stop();
    server = undefined;
    const calls = logLines(result.stdout).filter((line) => line.msg === 'call');
    expect(calls.map(({ service, method, code }) => ({ service, method, code }))).to.deep.equal([
      { service: 'helloworld.Greeter', method: 'SayHello', code: 'OK' },
      { service: 'helloworld.Greeter', method: 'SayHelloStream', code: 'INVALID_ARGUMENT' },
      { service: 'helloworld.Greeter', method: 'SayHelloSlow', code: 'CANCELLED' },
    ]);
    for (const line of calls) {
      expect(line.level).to.equal('info');
      expect(line.durationMs).to.be.a('number').and.within(0, 500);
    }
  });

  it("counts a call past the client's deadline when the client leaves, never as OK", async () => {
    const { greeter } = await serve();
    const abandoned = async () => [
      ...(await handled('SayHelloSlow', 'DEADLINE_EXCEEDED')),
      ...(await handled('SayHelloSlow', 'CANCELLED')),
    ];
    await failure(
      unary((done) => greeter.sayHelloSlow({ name: 'x', delayMs: 500 }, new Metadata(), within(100), done)),
    );
    await eventually(async () => (await abandoned()).length === 1, 'the call to be counted', 500);
    expect(await abandoned()).to.deep.equal([1]);
    // DEADLINE_EXCEEDED as a rule; CANCELLED when the client's cancel outruns the server's own deadline timer.
    expect(await handled('SayHelloSlow', 'OK')).to.deep.equal([]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await handled('SayHelloSlow', 'OK'), 'once the handler finished').to.deep.equal([]);
  });

  it('stops cleanly: exit 0 after SIGTERM', async () => {
    await serve();
    const result = await (server as TestServer).stop();
    server = undefined;
    expect(result.exitCode, result.stderr).to.equal(0);
  });
});
