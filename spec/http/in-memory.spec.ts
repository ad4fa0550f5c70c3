import { expect } from 'chai';
import { type InMemoryServer, startInMemory } from 'dionysus/testing';
import { OrderStore, OrdersApp } from '../fixtures/orders/app.js';
import { accessLines, logRecords } from './logs.js';

// `startInMemory(App)`: the http command's whole pipeline, requests dispatched without a socket.
describe('in-memory requests to an http command', () => {
  let server: InMemoryServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('answers routes through the framework pipeline: JSON bodies, statuses, request ids, error mapping', async () => {
    server = await startInMemory(OrdersApp);
    const created = await server.request('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'mem-1' },
      body: JSON.stringify({ id: '2', item: 'cake' }),
    });
    expect(created.status).to.equal(201);
    expect(created.headers.get('x-request-id')).to.equal('mem-1');
    expect(created.headers.get('content-type')).to.match(/^application\/json/);
    expect(await created.json()).to.deep.equal({ id: '2', item: 'cake' });

    const found = await server.request('/orders/2');
    expect([found.status, await found.json()]).to.deep.equal([200, { id: '2', item: 'cake' }]);
    const missing = await server.request('/orders/9');
    expect(missing.status).to.equal(404);
    expect(await missing.json()).to.deep.equal({ error: 'no order 9', requestId: missing.headers.get('x-request-id') });
    const malformed = await server.request('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":',
    });
    expect(malformed.status).to.equal(400);
    expect((await server.request('/nothing')).status).to.equal(404);
  });

  it("serves /healthx from the same state, with the app's own checks", async () => {
    // No check cache, so the second probe sees the store go down.
    server = await startInMemory(OrdersApp, { settings: { health: { minIntervalMs: 0 } } });
    expect((await server.request('/healthx/readiness')).status).to.equal(200);
    server.container.get(OrderStore).down = true;
    const failing = await server.request('/healthx/readiness');
    expect(failing.status).to.equal(503);
    expect(((await failing.json()) as { status: string }).status).to.equal('fail');
  });

  it('writes the access log and runs the hooks, and opens no http socket', async () => {
    server = await startInMemory(OrdersApp);
    await (await server.request('/orders/1')).arrayBuffer();
    const { stdout, exitCode } = await server.stop();
    server = undefined;
    expect(exitCode).to.equal(0);
    const records = logRecords(stdout);
    expect(accessLines(stdout).map((l) => [l.method, l.route, l.status])).to.deep.equal([['GET', '/orders/:id', 200]]);
    expect(records.map((r) => r.msg)).to.include.members([
      'orders store opened',
      'looking up order',
      'orders store closed',
    ]);
    expect(records.filter((r) => String(r.msg).startsWith('http server listening'))).to.deep.equal([]);
  });
});
