import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect } from 'chai';
import { startServer } from 'dionysus/testing';
import type { HelloReply } from '../../proto/gen/helloworld/helloworld.js';
import { App } from '../../samples/app/app.js';
import { logLines } from '../telemetry/log-lines.js';
import { check, clientsFor, closeClients, unary } from './clients.js';

describe('grpc tracing: a trace per call', () => {
  const print = console.log;
  beforeEach(() => {
    console.log = () => {}; // the sample's own hooks print to the console
  });
  afterEach(() => {
    closeClients();
    console.log = print;
  });

  async function traced(
    calls: (clients: ReturnType<typeof clientsFor>) => Promise<void>,
  ): Promise<{ spans: ReadableSpan[]; stdout: string }> {
    const exporter = new InMemorySpanExporter();
    const server = await startServer(App, 'grpc', { spanExporter: exporter });
    let stdout = '';
    try {
      await calls(clientsFor(server.address));
    } finally {
      closeClients();
      ({ stdout } = await server.stop());
    }
    return { spans: exporter.getFinishedSpans(), stdout };
  }

  it('makes each call the root of its own trace, and no span for health checks', async () => {
    const { spans, stdout } = await traced(async ({ greeter, health }) => {
      for (const name of ['a', 'b']) await unary<HelloReply>((done) => greeter.sayHello({ name }, done));
      for (const service of ['', 'readiness', 'liveness']) await check(health, service);
    });
    const calls = spans.filter((span) => span.attributes['rpc.system'] === 'grpc');
    expect(calls.map((span) => span.name)).to.deep.equal([
      'helloworld.Greeter/SayHello',
      'helloworld.Greeter/SayHello',
    ]);
    const [first, second] = calls as [ReadableSpan, ReadableSpan];
    expect(first.spanContext().traceId).to.not.equal(second.spanContext().traceId);
    for (const span of calls) expect(span.parentSpanContext, span.name).to.equal(undefined);
    expect(spans.map((span) => span.name).filter((name) => /health/i.test(name))).to.deep.equal([]);
    // Nor an access line: only the two Greeter calls are logged.
    const logged = logLines(stdout).filter((line) => line.msg === 'call');
    expect(logged.map((line) => line.service)).to.deep.equal(['helloworld.Greeter', 'helloworld.Greeter']);
  });

  it('names the server-start span after the runner, never `<Command>.undefined`', async () => {
    const names = (await traced(async () => {})).spans.map((span) => span.name);
    expect(names.filter((name) => name === 'GrpcCommand (grpc server)')).to.have.length(1);
    expect(names.filter((name) => name.includes('undefined'))).to.deep.equal([]);
  });
});
