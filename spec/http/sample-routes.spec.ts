import { expect } from 'chai';
import { startServer, type TestConfig, type TestServer } from 'dionysus/testing';
import { App } from '../../samples/app/app.js';

// How to test an http command: `startServer` runs it in-process on ephemeral
// ports, `server.request` is `fetch` against it, `server.stop()` sends SIGTERM
// and resolves with the exit code and everything the command logged.
/** The todos' database in memory: the in-process command leaves no SQLite file in the working directory. */
// FrameworkSettings does not type the named sections (sql, redis, pool); the configuration check does.
const IN_MEMORY = { dionysus: { sql: { main: { url: 'sqlite::memory:' } } } } as TestConfig;

describe('the sample http command, in-process', () => {
  let server: TestServer;
  const print = console.log;

  before(async () => {
    console.log = () => {}; // the sample's own hooks print to the console
    server = await startServer(App, 'http', { config: IN_MEMORY });
  });

  after(async () => {
    const result = await server.stop();
    console.log = print;
    expect(result.exitCode).to.equal(0);
  });

  const json = (body: unknown): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

  it('GET /hello?name=x answers 200 {"message":"hello x"}', async () => {
    const res = await server.request('/hello?name=x');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(await res.text()).to.equal('{"message":"hello x"}');
  });

  it('GET /hello without a name greets the world', async () => {
    const res = await server.request('/hello');
    expect(await res.text()).to.equal('{"message":"hello world"}');
  });

  it('POST /echo answers 200 with the JSON body it received', async () => {
    const body = { a: 1, list: ['x', null, true], nested: { b: 'c' } };
    const res = await server.request('/echo', json(body));
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal(body);
  });

  it('POST /echo answers 415 naming what it needs to a body that is not JSON, or to no body', async () => {
    for (const init of [
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"a":1}' },
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' },
      { method: 'POST' },
    ]) {
      const res = await server.request('/echo', init);
      expect(res.status, JSON.stringify(init)).to.equal(415);
      expect(await res.json()).to.include({ error: 'send a JSON body with content-type application/json' });
    }
  });

  it('GET /slow?ms=N answers 200 after N ms', async () => {
    const started = performance.now();
    const res = await server.request('/slow?ms=150');
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ sleptMs: 150 });
    expect(performance.now() - started).to.be.at.least(145);
  });

  it('GET /slow answers 400 naming ms when it is not a number from 0 to 60000, and waits 0 ms without one', async () => {
    for (const ms of ['abc', '-1', '60001', '']) {
      const res = await server.request(`/slow?ms=${ms}`);
      expect(res.status, ms).to.equal(400);
      const body = (await res.json()) as { code: string; issues: { in: string; path: string }[] };
      expect(body.code).to.equal('VALIDATION_FAILED');
      expect(
        body.issues.map((i) => [i.in, i.path]),
        ms,
      ).to.deep.equal([['query', 'ms']]);
    }
    expect(await (await server.request('/slow')).json()).to.deep.equal({ sleptMs: 0 });
  });

  describe('request ids', () => {
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

    it('generates one per request and echoes it in x-request-id', async () => {
      const [a, b] = await Promise.all([server.request('/hello'), server.request('/hello')]);
      expect(a.headers.get('x-request-id')).to.match(UUID);
      expect(b.headers.get('x-request-id')).to.match(UUID);
      expect(a.headers.get('x-request-id')).to.not.equal(b.headers.get('x-request-id'));
    });

    it("honours the caller's x-request-id", async () => {
      const res = await server.request('/hello', { headers: { 'x-request-id': 'edge-7f3a.42' } });
      expect(res.headers.get('x-request-id')).to.equal('edge-7f3a.42');
    });

    it('replaces an invalid one (a space, a semicolon, over 128 characters) with a fresh id', async () => {
      for (const invalid of ['two words', 'a'.repeat(129), 'semi;colon']) {
        const res = await server.request('/hello', { headers: { 'x-request-id': invalid } });
        expect(res.headers.get('x-request-id'), invalid).to.match(UUID);
      }
    });
  });

  describe('bodies', () => {
    it('answers malformed JSON with 400 {"error":"request body is not valid JSON"}', async () => {
      const res = await server.request('/echo', json('{"a":'));
      expect(res.status).to.equal(400);
      expect(await res.json()).to.deep.equal({
        error: 'request body is not valid JSON',
        requestId: res.headers.get('x-request-id'),
      });
    });

    it('answers a body over the 1 MB default limit with 413', async () => {
      const res = await server.request('/echo', json({ blob: 'x'.repeat(1_048_576) }));
      expect(res.status).to.equal(413);
      expect(await res.json()).to.have.property('error', 'request body is larger than 1048576 bytes');
    });

    it('accepts a body just under the limit', async () => {
      const blob = 'x'.repeat(1_048_576 - 20);
      const res = await server.request('/echo', json({ blob }));
      expect(res.status).to.equal(200);
      expect(await res.json())
        .to.have.property('blob')
        .with.length(blob.length);
    });
  });

  it('answers an unknown route with 404 and a JSON body', async () => {
    const res = await server.request('/nope');
    expect(res.status).to.equal(404);
    expect(await res.json()).to.deep.equal({
      error: 'no route for GET /nope',
      requestId: res.headers.get('x-request-id'),
    });
  });

  it('answers a known path with the wrong method with 405 and the allowed methods', async () => {
    const res = await server.request('/hello', { method: 'DELETE' });
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.equal('HEAD, GET');
    expect(await res.json()).to.have.property('error', 'method not allowed');
  });
});

describe('a smaller body limit, from the test settings', () => {
  it('answers 413 past dionysus.http.bodyLimitBytes and 200 under it', async () => {
    const print = console.log;
    console.log = () => {};
    const server = await startServer(App, 'http', { config: IN_MEMORY, settings: { http: { bodyLimitBytes: 100 } } });
    try {
      const post = (text: string) =>
        server.request('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
      const over = await post(JSON.stringify({ text: 'x'.repeat(100) }));
      expect(over.status).to.equal(413);
      expect(await over.json()).to.have.property('error', 'request body is larger than 100 bytes');
      const under = await post(JSON.stringify({ text: 'x'.repeat(50) }));
      expect(under.status).to.equal(200);
    } finally {
      expect((await server.stop()).exitCode).to.equal(0);
      console.log = print;
    }
  });
});
