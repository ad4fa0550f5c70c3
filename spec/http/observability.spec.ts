import { expect } from 'chai';
import { startServer } from 'dionysus/testing';
import { accessLines, logRecords } from './logs.js';
import { UsersApp } from './users-app.js';

/** The samples of one metric family in a Prometheus text page, labels as written. */
function samples(page: string, name: string): string[] {
  return page.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('http access log and request metrics', () => {
  it('logs one line per request with method, route template, path, status and duration', async () => {
    const server = await startServer(UsersApp, 'http');
    let stdout = '';
    try {
      await server.request('/users/1', { headers: { 'x-request-id': 'log-1' } });
      await server.request('/users/42');
      await server.request('/nope');
    } finally {
      ({ stdout } = await server.stop());
    }
    const lines = accessLines(stdout);
    expect(lines.map((l) => [l.method, l.route, l.path, l.status])).to.deep.equal([
      ['GET', '/users/:id', '/users/1', 200],
      ['GET', '/users/:id', '/users/42', 404],
      ['GET', 'unmatched', '/nope', 404],
    ]);
    expect(lines[0]).to.include({ level: 'info', requestId: 'log-1' });
    for (const line of lines) expect(line.durationMs).to.be.a('number').and.at.least(0);
  });

  it('keeps /healthx and /metrics out of the access log', async () => {
    const server = await startServer(UsersApp, 'http');
    let stdout = '';
    try {
      for (const path of ['/healthx/startup', '/healthx/liveness', '/healthx/readiness', '/metrics']) {
        await server.request(path);
      }
      await server.request('/healthx/readiness/close', { method: 'POST' });
      await server.request('/users/1');
    } finally {
      ({ stdout } = await server.stop());
    }
    expect(accessLines(stdout).map((l) => l.path)).to.deep.equal(['/users/1']);
  });

  it('logs no access lines with accessLogSampleRate 0, but still logs errors', async () => {
    const server = await startServer(UsersApp, 'http', { settings: { http: { accessLogSampleRate: 0 } } });
    let stdout = '';
    try {
      for (let i = 0; i < 5; i++) expect((await server.request('/users/1')).status).to.equal(200);
      expect((await server.request('/users/1/secret')).status).to.equal(500);
    } finally {
      ({ stdout } = await server.stop());
    }
    expect(accessLines(stdout)).to.deep.equal([]);
    expect(logRecords(stdout).filter((r) => r.level === 'error')).to.have.length(1);
  });

  it('counts requests in http_server_request_duration_seconds by route template on the admin server', async () => {
    const server = await startServer(UsersApp, 'http');
    try {
      for (const id of ['1', '2', '3']) await server.request(`/users/${id}`);
      await server.request('/users/1/trail');
      for (const path of ['/healthx/readiness', '/healthx/liveness', '/metrics']) await server.request(path);
      expect(server.adminPort).to.be.a('number');
      const page = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();

      const counts = samples(page, 'http_server_request_duration_seconds_count');
      const count = (labels: string): string | undefined => counts.find((line) => line.includes(labels))?.split(' ')[1];
      expect(count('method="GET",route="/users/:id",status_code="200"'), page).to.equal('1');
      expect(count('method="GET",route="/users/:id",status_code="404"'), page).to.equal('2');
      expect(count('method="GET",route="/users/:id/trail",status_code="200"'), page).to.equal('1');
      // Never a raw path, and nothing for the framework's own routes.
      const all = samples(page, 'http_server_request_duration_seconds_bucket').join('\n');
      expect(all).to.not.match(/route="\/users\/\d/);
      expect(all).to.not.include('healthx');
      expect(all).to.not.include('metrics');
    } finally {
      await server.stop();
    }
  });
});
