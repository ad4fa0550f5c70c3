import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect } from 'chai';
import { runCommand } from 'dionysus/testing';
import { InstrumentedApp, instrumentation } from '../fixtures/instrumented/app.js';
import { TelemetryApp } from '../fixtures/telemetry/app.js';
import { killChildren, node, SAMPLE } from '../integration/child.js';
import { closedPort } from '../support/ports.js';
import { waitForLog, withoutShellConfig } from './log-lines.js';
import { OtlpGrpcReceiver, OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

/** The one span of this name; fails listing the names there are. */
function one<T extends { name: string }>(spans: readonly T[], name: string): T {
  const found = spans.filter((span) => span.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one span ${name}, found ${found.length} among: ${spans.map((s) => s.name).join(', ')}`);
  }
  return found[0] as T;
}

describe('tracing: a span per lifecycle hook under one root span', () => {
  describe('in-process, with an in-memory exporter', () => {
    async function traced(argv: string[]): Promise<{ exitCode: number; spans: ReadableSpan[] }> {
      const exporter = new InMemorySpanExporter();
      const { exitCode } = await runCommand(TelemetryApp, argv, { env: {}, spanExporter: exporter });
      return { exitCode, spans: exporter.getFinishedSpans() };
    }

    it('makes each hook a child span of the root span `<app> <command>`', async () => {
      const { exitCode, spans } = await traced(['greet']);
      expect(exitCode).to.equal(0);
      const roots = spans.filter((span) => span.parentSpanContext === undefined);
      expect(roots.map((span) => span.name)).to.deep.equal(['telemetry greet']);
      const root = (roots[0] as ReadableSpan).spanContext();
      for (const [name, phase] of [
        ['TelemetryApp.openResources', 'prerun'],
        ['GreetCommand.prepare', 'prerun'],
        ['GreetCommand.run', 'run'],
        ['GreetCommand.finish', 'postrun'],
        ['TelemetryApp.releaseResources', 'postrun'],
      ] as const) {
        const span = one(spans, name);
        expect(span.parentSpanContext?.spanId, name).to.equal(root.spanId);
        expect(span.spanContext().traceId, name).to.equal(root.traceId);
        expect(span.attributes['dionysus.phase'], name).to.equal(phase);
        expect(span.status.code, name).to.not.equal(SpanStatusCode.ERROR);
      }
      // Every span of the run is in the one trace, and ended (exported) before the run resolved.
      expect(new Set(spans.map((span) => span.spanContext().traceId)).size).to.equal(1);
    });

    it('describes the service in the resource: app name, version and command', async () => {
      const { spans } = await traced(['greet']);
      for (const span of spans) {
        expect(span.resource.attributes, span.name).to.include({
          'service.name': 'telemetry',
          'dionysus.command': 'greet',
          'process.pid': process.pid,
        });
        expect(span.resource.attributes['service.version'], span.name).to.be.a('string');
      }
    });

    it("marks a failing hook's span, and the root span, as errors", async () => {
      const { exitCode, spans } = await traced(['fail']);
      expect(exitCode).to.equal(1);
      const failed = one(spans, 'FailCommand.connect');
      expect(failed.status.code).to.equal(SpanStatusCode.ERROR);
      expect(failed.status.message).to.include('database unreachable');
      expect(failed.events.map((event) => event.name)).to.include('exception');
      expect(one(spans, 'FailCommand.disconnect').status.code).to.not.equal(SpanStatusCode.ERROR);
      expect(one(spans, 'telemetry fail').status.code).to.equal(SpanStatusCode.ERROR);
      // The run never started, so it has no span.
      expect(spans.map((span) => span.name)).to.not.include('FailCommand.run');
    });
  });

  it("registers the app's instrumentations with the SDK: their spans join the run's trace", async () => {
    const exporter = new InMemorySpanExporter();
    const { exitCode } = await runCommand(InstrumentedApp, ['query'], { env: {}, spanExporter: exporter });
    expect(exitCode).to.equal(0);
    expect(instrumentation.providers, 'registered with the tracer provider').to.have.length.at.least(1);
    const spans = exporter.getFinishedSpans();
    const query = one(spans, 'db.query');
    expect(query.attributes['db.query.text']).to.equal('select 1');
    expect(query.instrumentationScope.name).to.equal('spec-query-instrumentation');
    expect(query.parentSpanContext?.spanId).to.equal(one(spans, 'QueryCommand.run').spanContext().spanId);
  });

  describe('end to end, over OTLP/HTTP to a receiver on loopback', () => {
    const receiver = new OtlpReceiver();
    let endpoint: string;

    beforeEach(async () => {
      receiver.requests.length = 0;
      receiver.mistakes.length = 0;
      endpoint = await receiver.start();
    });

    afterEach(async () => {
      await killChildren();
      await receiver.stop();
    });

    const tracingEnv = (): Record<string, string | undefined> => ({
      ...withoutShellConfig(),
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'greeter',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=spec',
    });

    /** The root span and its children, checked to form one trace. */
    function tree(spans: readonly ReceivedSpan[], rootName: string): { root: ReceivedSpan; children: ReceivedSpan[] } {
      const roots = spans.filter((span) => span.parentSpanId === undefined);
      expect(roots.map((span) => span.name)).to.deep.equal([rootName]);
      const root = roots[0] as ReceivedSpan;
      const children = spans.filter((span) => span !== root);
      for (const span of children) {
        expect(span.parentSpanId, span.name).to.equal(root.spanId);
        expect(span.traceId, span.name).to.equal(root.traceId);
      }
      expect(root.traceId).to.match(/^[0-9a-f]{32}$/);
      expect(root.spanId).to.match(/^[0-9a-f]{16}$/);
      return { root, children };
    }

    it('exports the spans of a task, with the resource, before the process exits (http/protobuf, the default)', async () => {
      const version = (await node(SAMPLE, ['--version'], { env: withoutShellConfig() }).waitForExit()).stdout.trim();
      const child = node(SAMPLE, ['greet', '--name', 'x'], { env: tracingEnv() });
      const exit = await child.waitForExit();
      expect(exit.code, exit.stderr).to.equal(0);
      // Everything arrived while the process was alive: the exit waited for the export.
      expect(receiver.mistakes).to.deep.equal([]);
      expect(receiver.requests).to.have.length.at.least(1);
      for (const request of receiver.requests) {
        expect(request.headers['content-type']).to.equal('application/x-protobuf');
        expect(request.encoding).to.equal('protobuf');
      }

      const { children } = tree(receiver.spans, 'app greet');
      const names = children.map((span) => span.name);
      expect(names).to.include.members([
        'App.openResources',
        'GreetCommand.prepare',
        'GreetCommand.run',
        'GreetCommand.finish',
        'App.releaseResources',
      ]);
      expect(one(children, 'GreetCommand.run').attributes).to.include({ 'dionysus.phase': 'run' });
      for (const span of receiver.spans) {
        expect(span.resource, span.name).to.include({
          'service.name': 'greeter',
          'service.version': version,
          'dionysus.command': 'greet',
          'process.pid': child.process.pid,
          'deployment.environment.name': 'spec',
        });
        expect(span.statusCode, span.name).to.not.equal(2);
      }
    });

    it('speaks http/json when OTEL_EXPORTER_OTLP_PROTOCOL says so', async () => {
      const child = node(SAMPLE, ['greet', '--name', 'x'], {
        env: { ...tracingEnv(), OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
      });
      const exit = await child.waitForExit();
      expect(exit.code, exit.stderr).to.equal(0);
      expect(receiver.requests.map((r) => r.encoding))
        .to.include('json')
        .and.not.include('protobuf');
      const { children } = tree(receiver.spans, 'app greet');
      expect(children.map((span) => span.name)).to.include('GreetCommand.run');
    });

    it('honours a ratio sampler: about that share of request traces is exported, each whole', async () => {
      const child = node(SAMPLE, ['http'], {
        env: {
          ...tracingEnv(),
          HTTP_PORT: '0',
          ADMIN_PORT: '0',
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '0.5',
        },
      });
      const listening = await waitForLog(child, (l) => l.msg.startsWith('http server listening'), 'the listen line');
      const port = (listening.http as { port: number }).port;
      const requests = 200;
      for (let i = 0; i < requests; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/hello?name=${i}`);
        expect(res.status).to.equal(200);
      }
      child.signal('SIGTERM');
      expect((await child.waitForExit()).code).to.equal(0);
      const requestSpans = receiver.spans.filter((span) => span.name === 'GET /hello');
      // Binomial(200, 0.5): 100 ± 7; the bounds are more than five standard deviations away.
      expect(requestSpans.length).to.be.within(60, 140);
      expect(new Set(requestSpans.map((span) => span.traceId)).size).to.equal(requestSpans.length);
    });

    it('exports the shutdown hooks of a long-running command stopped by SIGTERM', async () => {
      const child = node(SAMPLE, ['ctl'], { env: { ...tracingEnv(), ADMIN_PORT: '0' } });
      await waitForLog(child, (line) => line.state === 'running', 'the state running log line');
      child.signal('SIGTERM');
      const exit = await child.waitForExit();
      expect(exit.code, exit.stderr).to.equal(0);
      const { root, children } = tree(receiver.spans, 'app ctl');
      expect(root.resource).to.include({ 'dionysus.command': 'ctl' });
      const shutdown = children.filter((span) => span.attributes['dionysus.phase'] === 'shutdown');
      expect(shutdown.map((span) => span.name)).to.include.members(['WorkerCommand.flushWork', 'App.closeServers']);
      expect(one(children, 'WorkerCommand.run').attributes).to.include({ 'dionysus.phase': 'run' });
    });
  });

  describe('end to end, over OTLP/gRPC to a receiver on loopback', () => {
    const receiver = new OtlpGrpcReceiver();
    afterEach(async () => {
      await killChildren();
      await receiver.stop();
    });

    it('exports the spans of a task over gRPC when OTEL_EXPORTER_OTLP_PROTOCOL=grpc', async () => {
      const endpoint = await receiver.start();
      const child = node(SAMPLE, ['greet', '--name', 'x'], {
        env: {
          ...withoutShellConfig(),
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=grpc-spec',
        },
      });
      const exit = await child.waitForExit();
      expect(exit.code, exit.stderr).to.equal(0);
      expect(receiver.requests.length).to.be.at.least(1);
      expect(receiver.requests.map((r) => r.path)).to.include(
        '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      );
      const spans = receiver.spans;
      const root = one(spans, 'app greet');
      expect(root.resource).to.include({ 'service.name': 'app', 'deployment.environment.name': 'grpc-spec' });
      expect(one(spans, 'GreetCommand.run').parentSpanId).to.equal(root.spanId);
    });
  });

  describe('the standard exporter choice', () => {
    afterEach(killChildren);

    for (const protocol of ['http/protobuf', 'grpc']) {
      it(`a collector that refuses the export (${protocol}) loses the spans, not the task: exit 0 and a warning`, async () => {
        const exit = await node(SAMPLE, ['greet', '--name', 'x'], {
          env: {
            ...withoutShellConfig(),
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
            OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
          },
        }).waitForExit();
        expect(exit.code, exit.stderr).to.equal(0);
        expect(exit.stdout).to.equal('hello x\n');
        const warning = exit.stderr.split('\n').find((line) => line.includes('spans could not be exported'));
        expect(warning, exit.stderr).to.not.equal(undefined);
        expect(JSON.parse(warning as string)).to.include({ level: 'warn' });
        expect(warning).to.match(/ECONNREFUSED|UNAVAILABLE|No connection established/);
      });
    }

    it('prints spans with OTEL_TRACES_EXPORTER=console, and turns tracing off with none', async () => {
      const consoleRun = await node(SAMPLE, ['greet', '--name', 'x'], {
        env: { ...withoutShellConfig(), OTEL_TRACES_EXPORTER: 'console' },
      }).waitForExit();
      expect(consoleRun.code, consoleRun.stderr).to.equal(0);
      expect(consoleRun.stdout).to.include("name: 'GreetCommand.run'");
      const off = await node(SAMPLE, ['greet', '--name', 'x'], {
        env: {
          ...withoutShellConfig(),
          OTEL_TRACES_EXPORTER: 'none',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        },
      }).waitForExit();
      expect(off.code, off.stderr).to.equal(0);
      expect(off.stdout).to.not.include('GreetCommand.run');
    });
  });
});
