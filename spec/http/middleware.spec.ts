import { expect } from 'chai';
import { startServer, type TestServer } from 'dionysus/testing';
import { UsersApp } from './users-app.js';

describe('http middleware and the koa escape hatch', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(UsersApp, 'http');
  });
  after(async () => {
    expect((await server.stop()).exitCode).to.equal(0);
  });

  it('runs app, controller and route middleware in that order, before the handler', async () => {
    const res = await server.request('/users/1/trail');
    expect(await res.json()).to.deep.equal({ trail: ['app', 'controller', 'route'] });
  });

  it('gives route middleware the params and the route template, as @koa/router does', async () => {
    const res = await server.request('/users/42/route');
    expect(await res.json()).to.deep.equal({
      params: { id: '42' },
      routerPath: '/users/:id/route',
      matched: '/users/:id/route',
    });
  });

  it('matches routes in the order they are declared, routes without parameters too', async () => {
    expect(await (await server.request('/open/trail')).json()).to.deep.equal({ trail: ['app'] });
    expect(await (await server.request('/open/ada')).json()).to.deep.equal({ name: 'ada' });
    expect(await (await server.request('/open/late')).json()).to.deep.equal({ name: 'late' });
    expect(await (await server.request('/OPEN/TRAIL/')).json(), 'case and trailing slash as @koa/router').to.deep.equal(
      {
        trail: ['app'],
      },
    );
  });

  it('answers HEAD on a GET route with its headers and no body', async () => {
    const res = await server.request('/users/1', { method: 'HEAD' });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(await res.text()).to.equal('');
  });

  it("keeps a controller's middleware to its own routes", async () => {
    const res = await server.request('/open/trail');
    expect(await res.json()).to.deep.equal({ trail: ['app'] });
  });

  it('serves a raw route that a PreRun hook added to the injected Router', async () => {
    const res = await server.request('/raw/ping');
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ pong: true });
    expect(res.headers.get('x-request-id'), 'framework middleware wraps raw routes too').to.be.a('string');
  });

  it('runs middleware a PreRun hook added to the injected Koa app on every route', async () => {
    for (const path of ['/raw/ping', '/users/1']) {
      const res = await server.request(path);
      expect(res.headers.get('x-raw-middleware'), path).to.equal('ran');
    }
  });
});
