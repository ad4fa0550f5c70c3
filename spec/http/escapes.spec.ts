import { Readable } from 'node:stream';
import { expect } from 'chai';
import { Command, Controller, Get, HttpError, Main, Post } from 'dionysus';
import { startServer, type TestServer } from 'dionysus/testing';
import type { Context } from 'koa';
import { parseExposition, samplesOf } from '../telemetry/exposition.js';
import { accessLines, logRecords } from './logs.js';

/** What a downstream HTTP client library throws: a status, and a message meant for its caller only. */
class DownstreamError extends Error {
  readonly status = 401;
  readonly statusCode = 401;
  readonly expose = true;
}

/** Routes that fail the ways real handlers do, after awaiting something. */
@Controller('/x')
class Escapes {
  @Get('/bigint')
  async bigint(): Promise<object> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { total: 10n };
  }

  @Get('/circular')
  circular(): object {
    const node: { self?: unknown } = {};
    node.self = node;
    return node;
  }

  @Get('/deep')
  deep(): unknown {
    let value: unknown[] = [];
    for (let i = 0; i < 8_000; i++) value = [value];
    return value;
  }

  @Get('/stream-fails-at-once')
  failsAtOnce(ctx: Context): void {
    ctx.type = 'text/csv';
    ctx.body = new Readable({
      read() {
        this.destroy(new Error('export source unreachable'));
      },
    });
  }

  @Get('/stream-fails-midway')
  failsMidway(ctx: Context): void {
    let sent = 0;
    ctx.type = 'text/csv';
    ctx.body = new Readable({
      read() {
        if (sent++ < 3) this.push(`row ${sent}\n`.repeat(2_000));
        else setTimeout(() => this.destroy(new Error('export source went away')), 5);
      },
    });
  }

  @Get('/stream')
  stream(ctx: Context): void {
    ctx.type = 'text/csv';
    ctx.body = Readable.from(['a,b\n', '1,2\n']);
  }

  @Get('/downstream')
  async downstream(): Promise<never> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    throw new DownstreamError('token rejected by billing at postgres://billing:pw@db.internal');
  }

  @Get('/status-shaped')
  statusShaped(): never {
    throw Object.assign(new Error('upstream said 404 for secret-host.internal'), { status: 404, expose: true });
  }

  @Get('/koa-throw')
  koaThrow(ctx: Context): never {
    ctx.throw(418, 'short and stout');
  }

  @Get('/http-error')
  httpError(): never {
    throw new HttpError(409, 'order 7 exists already');
  }

  @Post('/echo')
  echo(ctx: Context): { body: unknown; present: boolean } {
    const { body } = ctx.request as { body?: unknown };
    return { body: body === undefined ? 'undefined' : body, present: body !== undefined };
  }
}

@Command('http', { controllers: [Escapes] })
class EscapesHttp {}

@Main({ name: 'escapes', commands: [EscapesHttp] })
class EscapesApp {}

describe('http: every failure goes through the one error mapping', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startServer(EscapesApp, 'http');
  });
  afterEach(async () => {
    await server.stop();
  });

  /** Stops the server and returns what it logged. */
  const stopped = async (): Promise<string> => {
    const { stdout } = await server.stop();
    server = await startServer(EscapesApp, 'http'); // for afterEach
    return stdout;
  };

  for (const [path, what] of [
    ['/x/bigint', 'a BigInt'],
    ['/x/circular', 'a circular object'],
    ['/x/deep', 'an 8,000-deep array'],
  ] as const) {
    it(`answers a body holding ${what} with a JSON 500 carrying the request id, logged at error and counted as 500`, async () => {
      const res = await server.request(path, { headers: { 'x-request-id': 'ser-1' } });
      expect(res.status).to.equal(500);
      expect(res.headers.get('x-request-id')).to.equal('ser-1');
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(await res.json()).to.deep.equal({ error: 'internal server error', requestId: 'ser-1' });
      const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
      const stdout = await stopped();
      const errors = logRecords(stdout).filter((r) => r.level === 'error' && r.requestId === 'ser-1');
      expect(errors, stdout).to.have.length(1);
      expect(errors[0]?.msg).to.match(/^request failed: the response body cannot be serialised as JSON: /);
      expect(errors[0]?.err).to.have.property('stack');
      expect(accessLines(stdout).map((l) => l.status)).to.deep.equal([500]);
      const counts = samplesOf(parseExposition(metrics), 'http_server_request_duration_seconds_count');
      expect(counts.map((s) => s.labels.status_code)).to.deep.equal(['500']);
    });
  }

  it('answers a stream that fails before its first byte with a JSON 500, logged and counted', async () => {
    const res = await server.request('/x/stream-fails-at-once', { headers: { 'x-request-id': 'str-1' } });
    expect(res.status).to.equal(500);
    expect(res.headers.get('x-request-id')).to.equal('str-1');
    expect(await res.json()).to.deep.equal({ error: 'internal server error', requestId: 'str-1' });
    const stdout = await stopped();
    const errors = logRecords(stdout).filter((r) => r.level === 'error');
    expect(errors.map((r) => r.msg)).to.deep.equal(['request failed: export source unreachable']);
    expect(errors[0]?.err).to.have.property('stack');
    expect(accessLines(stdout).map((l) => [l.route, l.status])).to.deep.equal([['/x/stream-fails-at-once', 500]]);
  });

  it('ends the connection of a stream that fails midway, and logs and counts it as 500', async () => {
    const failure = await server
      .request('/x/stream-fails-midway')
      .then((res) => res.text())
      .then(
        () => 'read whole',
        (error: Error) => error.message,
      );
    expect(failure, 'the client sees a truncated answer').to.not.equal('read whole');
    const stdout = await stopped();
    const errors = logRecords(stdout).filter((r) => r.level === 'error');
    expect(errors.map((r) => r.msg)).to.deep.equal([
      'request failed: the response stream failed after its headers were sent: export source went away',
    ]);
    expect(accessLines(stdout).map((l) => l.status)).to.deep.equal([500]);
  });

  it('still streams a body that does not fail, logged as 200', async () => {
    const res = await server.request('/x/stream');
    expect([res.status, await res.text()]).to.deep.equal([200, 'a,b\n1,2\n']);
    expect(accessLines(await stopped()).map((l) => l.status)).to.deep.equal([200]);
  });

  it("answers an error that merely carries status 401 and expose (a downstream client's) with a logged 500", async () => {
    const res = await server.request('/x/downstream', { headers: { 'x-request-id': 'down-1' } });
    const text = await res.text();
    expect(res.status).to.equal(500);
    expect(JSON.parse(text)).to.deep.equal({ error: 'internal server error', requestId: 'down-1' });
    expect(text).to.not.match(/billing|postgres|token/);
    const shaped = await server.request('/x/status-shaped');
    expect(shaped.status).to.equal(500);
    expect(await shaped.text()).to.not.include('secret-host');
    const stdout = await stopped();
    const errors = logRecords(stdout).filter((r) => r.level === 'error');
    expect(errors.map((r) => r.msg)).to.deep.equal([
      'request failed: token rejected by billing at postgres://billing:pw@db.internal',
      'request failed: upstream said 404 for secret-host.internal',
    ]);
  });

  it("lets HttpError and koa's ctx.throw choose the status and the message", async () => {
    const teapot = await server.request('/x/koa-throw');
    expect([teapot.status, ((await teapot.json()) as { error: string }).error]).to.deep.equal([418, 'short and stout']);
    const conflict = await server.request('/x/http-error');
    expect([conflict.status, ((await conflict.json()) as { error: string }).error]).to.deep.equal([
      409,
      'order 7 exists already',
    ]);
  });

  const post = (body: string | undefined, headers: Record<string, string> = {}): Promise<Response> =>
    server.request('/x/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body }),
    });

  it('accepts every JSON value as a body: null, 42 and "s" as well as objects and arrays', async () => {
    for (const [text, value] of [
      ['null', null],
      ['42', 42],
      ['"s"', 's'],
      ['false', false],
      ['[1]', [1]],
      ['{"a":1}', { a: 1 }],
    ] as const) {
      const res = await post(text);
      expect(res.status, text).to.equal(200);
      expect(await res.json(), text).to.deep.equal({ body: value, present: true });
    }
    expect((await post('{"a":')).status).to.equal(400);
  });

  it('leaves the body undefined for an empty application/json request, sent with content-length 0 or chunked', async () => {
    const empty = await post('');
    expect(await empty.json()).to.deep.equal({ body: 'undefined', present: false });
    const chunked = await server.request('/x/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(await chunked.json()).to.deep.equal({ body: 'undefined', present: false });
  });

  it('labels bad bodies, 405 and OPTIONS answers with the route template in the access log and metrics', async () => {
    expect((await post('{"a":')).status).to.equal(400);
    expect((await post('x'.repeat(2 * 1024 * 1024))).status).to.equal(413);
    expect((await post('{}', { 'content-encoding': 'br-nope' })).status).to.equal(415);
    expect((await server.request('/x/echo', { method: 'DELETE' })).status).to.equal(405);
    expect((await server.request('/x/echo', { method: 'OPTIONS' })).status).to.equal(200);
    expect((await server.request('/x/nothing-here')).status).to.equal(404);
    const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    const lines = accessLines(await stopped());
    expect(lines.map((l) => [l.method, l.route, l.status])).to.deep.equal([
      ['POST', '/x/echo', 400],
      ['POST', '/x/echo', 413],
      ['POST', '/x/echo', 415],
      ['DELETE', '/x/echo', 405],
      ['OPTIONS', '/x/echo', 200],
      ['GET', 'unmatched', 404],
    ]);
    const counts = samplesOf(parseExposition(metrics), 'http_server_request_duration_seconds_count');
    expect(counts.filter((s) => s.labels.route === 'unmatched').map((s) => s.labels.status_code)).to.deep.equal([
      '404',
    ]);
  });
});
