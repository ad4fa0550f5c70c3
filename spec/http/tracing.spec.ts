import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect } from 'chai';
import { Command, Controller, Get, Injectable, Logger, Main, PreRun } from 'dionysus';
import { startServer } from 'dionysus/testing';
import Koa from 'koa';
import { OrdersApp } from '../fixtures/orders/app.js';
import { type LogRecord, logRecords } from './logs.js';

interface Traced {
  readonly spans: ReadableSpan[];
  readonly logs: LogRecord[];
}

/** Starts the orders service with an in-memory exporter, sends the requests, stops it. */
async function traced(requests: readonly [path: string, init?: RequestInit][]): Promise<Traced> {
  const exporter = new InMemorySpanExporter();
  const server = await startServer(OrdersApp, 'http', { spanExporter: exporter });
  let stdout = '';
  try {
    for (const [path, init] of requests) await (await server.request(path, init)).arrayBuffer();
  } finally {
    ({ stdout } = await server.stop());
  }
  return { spans: exporter.getFinishedSpans(), logs: logRecords(stdout) };
}

const serverSpans = (spans: readonly ReadableSpan[]): ReadableSpan[] =>
  spans.filter((span) => span.attributes['http.request.method'] !== undefined);

describe('http tracing: a trace per request', () => {
  it('starts a new trace for each request that carries no trace context', async () => {
    const { spans } = await traced([['/orders/1'], ['/orders/1']]);
    const requests = serverSpans(spans);
    expect(requests.map((span) => span.name)).to.deep.equal(['GET /orders/:id', 'GET /orders/:id']);
    const [first, second] = requests as [ReadableSpan, ReadableSpan];
    expect(first.spanContext().traceId).to.not.equal(second.spanContext().traceId);
    // Roots of their own traces, not children of the span that started the server.
    for (const span of requests) expect(span.parentSpanContext, span.name).to.equal(undefined);
    const runTrace = spans.find((span) => span.name === 'orders http')?.spanContext().traceId;
    expect(runTrace).to.be.a('string');
    for (const span of requests) expect(span.spanContext().traceId).to.not.equal(runTrace);
  });

  it("continues the caller's trace when the request carries traceparent", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const { spans } = await traced([['/orders/1', { headers: { traceparent: `00-${traceId}-${parent}-01` } }]]);
    const [span] = serverSpans(spans);
    expect(span?.spanContext().traceId).to.equal(traceId);
    expect(span?.parentSpanContext?.spanId).to.equal(parent);
  });

  it("writes the request span's ids on the access log line and on the lines the handler logs", async () => {
    const { spans, logs } = await traced([['/orders/1'], ['/orders/2']]);
    const requests = serverSpans(spans);
    const access = logs.filter((line) => line.msg === 'request');
    const handler = logs.filter((line) => line.msg === 'looking up order');
    expect(access).to.have.length(2);
    expect(handler).to.have.length(2);
    requests.forEach((span, i) => {
      const ids = { trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId };
      expect(access[i], 'access line').to.include(ids);
      expect(handler[i], 'handler line').to.include(ids);
    });
  });

  it('makes no span for health and metrics routes, which the kubelet and Prometheus call all the time', async () => {
    const { spans, logs } = await traced([
      ['/healthx/readiness'],
      ['/healthx/liveness'],
      ['/healthx/startup'],
      ['/orders/1'],
    ]);
    expect(serverSpans(spans).map((span) => span.attributes['url.path'])).to.deep.equal(['/orders/1']);
    expect(logs.filter((line) => line.msg === 'request').map((line) => line.path)).to.deep.equal(['/orders/1']);
  });

  it('names the server-start span after the runner, never `<Command>.undefined`', async () => {
    const { spans } = await traced([]);
    const names = spans.map((span) => span.name);
    expect(names).to.include('OrdersHttp (http server)');
    expect(names.filter((name) => name.includes('undefined'))).to.deep.equal([]);
    expect(names.filter((name) => name === 'OrdersHttp (http server)')).to.have.length(1);
  });
});

describe("the request's id on the lines a handler logs", () => {
  /** Five concurrent POST /orders, each logging after an await; the response ids by order id, and the log lines. */
  async function concurrentOrders(options: { spanExporter?: InMemorySpanExporter }) {
    const server = await startServer(OrdersApp, 'http', options);
    const ids = new Map<string, string>();
    let stdout = '';
    try {
      await Promise.all(
        ['a', 'b', 'c', 'd', 'e'].map(async (id) => {
          const res = await server.request('/orders', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ id, item: `item ${id}` }),
          });
          expect(res.status).to.equal(201);
          ids.set(id, res.headers.get('x-request-id') as string);
        }),
      );
    } finally {
      ({ stdout } = await server.stop());
    }
    return { ids, lines: logRecords(stdout).filter((line) => line.msg === 'order created') };
  }

  for (const tracing of [false, true]) {
    it(`carries the requestId of the request being handled, past awaits and among concurrent requests (tracing ${tracing ? 'on' : 'off'})`, async () => {
      const { ids, lines } = await concurrentOrders(tracing ? { spanExporter: new InMemorySpanExporter() } : {});
      expect(lines).to.have.length(5);
      for (const line of lines) {
        expect(line.requestId, `the line of order ${String(line.orderId)}`).to.equal(ids.get(line.orderId as string));
      }
      if (tracing) for (const line of lines) expect(line.trace_id).to.match(/^[0-9a-f]{32}$/);
    });
  }

  it('carries it on the lines of a service the controller reaches, which alone injects the Logger', async () => {
    const server = await startServer(AuditApp, 'http');
    let stdout = '';
    try {
      const res = await server.request('/audit', { headers: { 'x-request-id': 'audit-1' } });
      expect(res.status).to.equal(200);
    } finally {
      ({ stdout } = await server.stop());
    }
    const lines = logRecords(stdout).filter((line) => line.msg === 'audited');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ requestId: 'audit-1', what: 'GET /audit' });
  });

  it('carries it wave after wave, with requests of routes that cannot log in between and alongside', async () => {
    // The storage is on only while a request that can log is handled: it goes off after each wave and on again.
    const server = await startServer(AuditApp, 'http');
    let stdout = '';
    const sent: string[] = [];
    try {
      for (let wave = 0; wave < 3; wave++) {
        await Promise.all(
          ['a', 'b', 'c'].map(async (name) => {
            const id = `wave-${wave}-${name}`;
            sent.push(id);
            const [logged, quiet] = await Promise.all([
              server.request('/audit', { headers: { 'x-request-id': id } }),
              server.request('/quiet', { headers: { 'x-request-id': `quiet-${id}` } }),
            ]);
            expect([logged.status, quiet.status]).to.deep.equal([200, 200]);
          }),
        );
        expect((await server.request('/quiet')).status).to.equal(200);
      }
    } finally {
      ({ stdout } = await server.stop());
    }
    const lines = logRecords(stdout).filter((line) => line.msg === 'audited');
    expect(lines.map((line) => line.requestId).sort()).to.deep.equal([...sent].sort());
  });

  it('carries it on the lines of middleware a hook adds through the injected Koa, before any route', async () => {
    const server = await startServer(GateApp, 'http');
    let stdout = '';
    try {
      expect((await server.request('/quiet', { headers: { 'x-request-id': 'gate-1' } })).status).to.equal(200);
      expect((await server.request('/nowhere', { headers: { 'x-request-id': 'gate-2' } })).status).to.equal(404);
    } finally {
      ({ stdout } = await server.stop());
    }
    const lines = logRecords(stdout).filter((line) => line.msg === 'gate');
    expect(lines.map((line) => line.requestId)).to.deep.equal(['gate-1', 'gate-2']);
  });

  it('leaves the lines logged outside a request without one', async () => {
    const server = await startServer(OrdersApp, 'http');
    const { stdout } = await server.stop();
    const lifecycle = logRecords(stdout).filter((line) => typeof line.hook === 'string');
    expect(lifecycle.length).to.be.above(0);
    for (const line of lifecycle) expect(line).to.not.have.property('requestId');
  });
});

/** A service that logs after an await; the controller using it has no Logger of its own. */
@Injectable()
class Audit {
  constructor(private readonly log: Logger) {}

  async record(what: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 2));
    this.log.info({ what }, 'audited');
  }
}

@Controller()
class AuditController {
  constructor(private readonly audit: Audit) {}

  @Get('/audit')
  async hit(): Promise<{ ok: boolean }> {
    await this.audit.record('GET /audit');
    return { ok: true };
  }
}

/** Answers without logging: nothing it reaches injects the Logger. */
@Controller()
class QuietController {
  @Get('/quiet')
  async quiet(): Promise<{ ok: boolean }> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { ok: true };
  }
}

@Command('http', { controllers: [AuditController, QuietController] })
class AuditHttp {}

/** A hook that adds middleware logging every request, after an await. */
@Command('http', { controllers: [QuietController] })
class GateHttp {
  constructor(
    private readonly app: Koa,
    private readonly log: Logger,
  ) {}

  @PreRun()
  gate(): void {
    this.app.use(async (_ctx, next) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      this.log.info('gate');
      await next();
    });
  }
}

@Main({ name: 'gate', commands: [GateHttp] })
class GateApp {}

@Main({ name: 'audit', commands: [AuditHttp] })
class AuditApp {}
