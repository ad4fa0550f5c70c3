import { expect } from 'chai';
import { startServer } from 'dionysus/testing';
import { logRecords } from './logs.js';
import { UsersApp } from './users-app.js';

describe('http error mapping', () => {
  it('answers an HttpError with its status and message (404, 409), and a returned value with the route status', async () => {
    const server = await startServer(UsersApp, 'http');
    try {
      const missing = await server.request('/users/7');
      expect(missing.status).to.equal(404);
      expect(await missing.json()).to.deep.equal({
        error: 'no user 7',
        requestId: missing.headers.get('x-request-id'),
      });

      const post = (user: object) =>
        server.request('/users', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(user),
        });
      const created = await post({ id: '2', name: 'bo' });
      expect(created.status).to.equal(201);
      expect(await created.json()).to.deep.equal({ id: '2', name: 'bo' });
      const conflict = await post({ id: '2', name: 'bo' });
      expect(conflict.status).to.equal(409);
      expect(await conflict.json()).to.have.property('error', 'user 2 exists already');
    } finally {
      await server.stop();
    }
  });

  it('answers an unknown error with 500 and a generic body, and logs it at error with the request id', async () => {
    const server = await startServer(UsersApp, 'http');
    const res = await server.request('/users/1/secret', { headers: { 'x-request-id': 'req-500' } });
    const text = await res.text();
    const { stdout } = await server.stop();

    expect(res.status).to.equal(500);
    expect(JSON.parse(text)).to.deep.equal({ error: 'internal server error', requestId: 'req-500' });
    // Nothing of the internal error reaches the client: no message, no stack.
    expect(text).to.not.match(/hunter2|postgres|connection|Error|\bat /);

    const failed = logRecords(stdout).filter((r) => r.level === 'error' && r.requestId === 'req-500');
    expect(failed, stdout).to.have.length(1);
    expect(failed[0]?.msg).to.equal('request failed: connection to postgres://admin:hunter2@db failed');
    expect(failed[0]).to.include({ method: 'GET', path: '/users/1/secret' });
    expect(failed[0]?.err).to.have.property('stack').that.includes('UsersController.secret');
  });

  it('says why a request failed once in its log line: in msg, with the type and stack frames in err', async () => {
    const server = await startServer(UsersApp, 'http');
    await server.request('/users/1/secret', { headers: { 'x-request-id': 'req-once' } });
    const { stdout } = await server.stop();
    const [failed] = logRecords(stdout).filter((r) => r.level === 'error' && r.requestId === 'req-once');
    expect(failed?.msg).to.equal('request failed: connection to postgres://admin:hunter2@db failed');
    expect(JSON.stringify(failed).split('connection to postgres')).to.have.length(2);
    expect(failed?.err).to.include({ type: 'Error' });
    expect(failed?.err)
      .to.have.property('stack')
      .that.matches(/^at .*UsersController\.secret/);
  });

  it('answers a route that sets no body and no status with 500 and logs Class.method, not a silent 404', async () => {
    const server = await startServer(UsersApp, 'http');
    const res = await server.request('/users/1/forgotten');
    const body = await res.json();
    const { stdout } = await server.stop();

    expect(res.status).to.equal(500);
    expect(body).to.deep.equal({ error: 'internal server error', requestId: res.headers.get('x-request-id') });
    const line = logRecords(stdout).find((r) => r.level === 'error');
    expect(line?.msg).to.include('UsersController.forgotten set no body and no status');
    expect(line?.msg).to.include('GET /users/:id/forgotten');
    expect(line?.requestId).to.equal(res.headers.get('x-request-id'));
  });
});
