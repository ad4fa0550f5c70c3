import { networkInterfaces } from 'node:os';
import { expect } from 'chai';
import { startServer, type TestServer } from 'dionysus/testing';
import type { Context } from 'koa';
import pino from 'pino';
import { Health } from '../../lib/health/health.js';
import { healthx } from '../../lib/http/healthx.js';
import { systemClock } from '../../lib/lifecycle/clock.js';
import { logRecords } from './logs.js';
import { Database, UsersApp } from './users-app.js';

const post = { method: 'POST' } as const;

describe('GET /healthx/{probe}', () => {
  it('answers 200 with the JSON report of startup, liveness and readiness', async () => {
    const server = await startServer(UsersApp, 'http');
    try {
      for (const probe of ['startup', 'liveness', 'readiness']) {
        const res = await server.request(`/healthx/${probe}`);
        expect(res.status, probe).to.equal(200);
        expect(res.headers.get('cache-control')).to.equal('no-store');
        expect(await res.json()).to.include({ probe, status: 'pass', gate: 'open', switch: 'open' });
      }
      const readiness = (await (await server.request('/healthx/readiness')).json()) as { checks: unknown[] };
      expect(readiness.checks).to.have.length(1);
      expect(readiness.checks[0]).to.include({ name: 'database', status: 'pass' });
    } finally {
      await server.stop();
    }
  });

  it('answers 503 naming the failed check while a check throws, and 200 again once it passes', async () => {
    // minIntervalMs 0: every probe runs the checks, so the test sees a change at once.
    const server = await startServer(UsersApp, 'http', {
      settings: { health: { minIntervalMs: 0 }, http: { controlToken: 'tok' } },
    });
    try {
      const database = server.container.get(Database);
      database.down = true;
      const down = await server.request('/healthx/readiness', { headers: { authorization: 'Bearer tok' } });
      expect(down.status).to.equal(503);
      const report = (await down.json()) as { status: string; reason: string; checks: unknown[] };
      expect(report.status).to.equal('fail');
      expect(report.reason).to.equal('check database failed: database unreachable');
      expect(report.checks[0]).to.include({ name: 'database', status: 'fail', error: 'database unreachable' });
      expect((await server.request('/healthx/liveness')).status, 'liveness has no such check').to.equal(200);

      database.down = false;
      expect((await server.request('/healthx/readiness')).status).to.equal(200);
    } finally {
      await server.stop();
    }
  });

  it('tells a peer without the control token which checks fail, never their error messages', async () => {
    const server = await startServer(UsersApp, 'http', {
      settings: { health: { minIntervalMs: 0 }, http: { controlToken: 'tok' } },
    });
    try {
      server.container.get(Database).down = true;
      for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
        const res = await server.request('/healthx/readiness', { headers });
        expect(res.status).to.equal(503);
        const text = await res.text();
        expect(text, JSON.stringify(headers)).to.not.include('unreachable');
        const report = JSON.parse(text) as { reason: string; checks: Record<string, unknown>[] };
        expect(report.reason).to.equal('check database failed');
        expect(report.checks).to.have.length(1);
        expect(report.checks[0]).to.include({ name: 'database', status: 'fail' });
        expect(report.checks[0]).to.not.have.property('error');
      }
    } finally {
      await server.stop();
    }
  });

  it('answers an unknown probe with 404 and a wrong method with 405', async () => {
    const server = await startServer(UsersApp, 'http');
    try {
      expect((await server.request('/healthx/ready')).status).to.equal(404);
      const wrong = await server.request('/healthx/readiness', post);
      expect(wrong.status).to.equal(405);
      expect(wrong.headers.get('allow')).to.equal('GET, HEAD');
    } finally {
      await server.stop();
    }
  });
});

describe('POST /healthx/{probe}/{open,close}', () => {
  describe('without a control token', () => {
    let server: TestServer;
    beforeEach(async () => {
      server = await startServer(UsersApp, 'http');
    });
    afterEach(async () => {
      await server.stop();
    });

    it('refuses a switch request from loopback with 403 saying how to configure a token (a sidecar proxy is loopback)', async () => {
      const res = await server.request('/healthx/readiness/close', post);
      expect(res.status).to.equal(403);
      expect(((await res.json()) as { error: string }).error).to.match(
        /^health switches on this port need a control token: set DIONYSUS_CONTROL_TOKEN/,
      );
      expect((await server.request('/healthx/readiness')).status).to.equal(200);
    });

    it('answers GET on a switch route with 405', async () => {
      const res = await server.request('/healthx/readiness/close');
      expect(res.status).to.equal(405);
      expect(res.headers.get('allow')).to.equal('POST');
      expect((await server.request('/healthx/readiness')).status, 'the switch did not move').to.equal(200);
    });
  });

  describe('with loopback trusted (dionysus.health.trustLoopback, no proxy in the pod)', () => {
    let server: TestServer;
    beforeEach(async () => {
      server = await startServer(UsersApp, 'http', { settings: { health: { trustLoopback: true } } });
    });
    afterEach(async () => {
      await server.stop();
    });

    it('closes readiness from a loopback peer: 200, then readiness answers 503 naming the switch', async () => {
      const closed = await server.request('/healthx/readiness/close', post);
      expect(closed.status).to.equal(200);
      expect(await closed.json()).to.deep.equal({ probe: 'readiness', switch: 'closed' });

      const res = await server.request('/healthx/readiness');
      expect(res.status).to.equal(503);
      expect(await res.json()).to.include({ reason: 'readiness is switched closed', switch: 'closed' });
      expect((await server.request('/healthx/liveness')).status, 'other probes keep their switch').to.equal(200);

      expect((await server.request('/healthx/readiness/open', post)).status).to.equal(200);
      expect((await server.request('/healthx/readiness')).status).to.equal(200);
    });
  });

  describe('with a control token', () => {
    let server: TestServer;
    beforeEach(async () => {
      server = await startServer(UsersApp, 'http', { settings: { http: { controlToken: 's3cret-token' } } });
    });
    afterEach(async () => {
      await server.stop();
    });

    it('refuses a request without the token with 403, even from loopback', async () => {
      const res = await server.request('/healthx/readiness/close', post);
      expect(res.status).to.equal(403);
      expect(await res.json()).to.have.property(
        'error',
        'a bearer token (the control token) is required to change health switches',
      );
      expect((await server.request('/healthx/readiness')).status).to.equal(200);
    });

    it('refuses a wrong token with 403', async () => {
      for (const authorization of [
        'Bearer wrong',
        'Bearer s3cret-token-and-more',
        's3cret-token',
        'Basic s3cret-token',
      ]) {
        const res = await server.request('/healthx/readiness/close', { ...post, headers: { authorization } });
        expect(res.status, authorization).to.equal(403);
      }
      expect((await server.request('/healthx/readiness')).status).to.equal(200);
    });

    it('accepts the right bearer token: 200 and readiness answers 503', async () => {
      const res = await server.request('/healthx/readiness/close', {
        ...post,
        headers: { authorization: 'Bearer s3cret-token' },
      });
      expect(res.status).to.equal(200);
      expect((await server.request('/healthx/readiness')).status).to.equal(503);
    });
  });

  it('logs a refused switch request at warn, without the token', async () => {
    const server = await startServer(UsersApp, 'http', { settings: { http: { controlToken: 's3cret-token' } } });
    let stdout = '';
    try {
      const res = await server.request('/healthx/readiness/close', {
        ...post,
        headers: { authorization: 'Bearer no' },
      });
      expect(res.status).to.equal(403);
    } finally {
      ({ stdout } = await server.stop());
    }
    const refused = logRecords(stdout).filter((r) => r.level === 'warn' && r.msg.startsWith('refused health switch'));
    expect(refused).to.have.length(1);
    expect(refused[0]).to.include({ probe: 'readiness', action: 'close', peer: '127.0.0.1' });
    expect(stdout).to.not.include('s3cret-token');
  });

  describe('from a peer that is not loopback', () => {
    it('refuses it with 403 and a warn log line naming the peer', async () => {
      const address = nonLoopbackIPv4();
      if (address === undefined) {
        // No other interface here: the peer is faked in the unit spec below.
        expect((await switchFrom('10.1.2.3')).status).to.equal(403);
        return;
      }
      const server = await startServer(UsersApp, 'http', {
        settings: { http: { host: '0.0.0.0' }, health: { trustLoopback: true } },
      });
      let stdout = '';
      try {
        const res = await fetch(`http://${address}:${server.port}/healthx/readiness/close`, post);
        expect(res.status).to.equal(403);
        expect(((await res.json()) as { error: string }).error).to.match(/need a control token/);
        expect((await server.request('/healthx/readiness')).status).to.equal(200);
      } finally {
        ({ stdout } = await server.stop());
      }
      const refused = logRecords(stdout).find((r) => r.level === 'warn' && r.msg.startsWith('refused health switch'));
      expect(refused, stdout).to.include({ peer: address, probe: 'readiness', action: 'close' });
    });
  });
});

describe('the healthx middleware, with a faked peer', () => {
  it('refuses a switch request from 10.1.2.3 with 403 and a warn line, leaving the switch open', async () => {
    const { status, health, lines } = await switchFrom('10.1.2.3');
    expect(status).to.equal(403);
    expect(health.switchOf('readiness')).to.equal('open');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ level: 40, peer: '10.1.2.3', probe: 'readiness', action: 'close' });
  });

  it('refuses every loopback peer when no token is configured and loopback is not trusted', async () => {
    for (const peer of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.0.0.6']) {
      const { status, health } = await switchFrom(peer);
      expect(status, peer).to.equal(403);
      expect(health.switchOf('readiness'), peer).to.equal('open');
    }
  });

  it('with loopback trusted, accepts 127.0.0.1, ::1 and ::ffff:127.0.0.1, and refuses the rest of 127/8', async () => {
    for (const peer of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const { status, health } = await switchFrom(peer, { trustLoopback: true });
      expect(status, peer).to.equal(200);
      expect(health.switchOf('readiness'), peer).to.equal('closed');
    }
    for (const peer of ['127.0.0.6', '::ffff:127.0.0.6', '127.1.2.3']) {
      expect((await switchFrom(peer, { trustLoopback: true })).status, peer).to.equal(403);
    }
  });

  it('accepts any peer with the configured bearer token', async () => {
    const { status, health } = await switchFrom('10.1.2.3', { token: 'tok', authorization: 'Bearer tok' });
    expect(status).to.equal(200);
    expect(health.switchOf('readiness')).to.equal('closed');
  });
});

/** Runs the middleware on a fake koa context: POST /healthx/readiness/close from `peer`. */
async function switchFrom(
  peer: string,
  { token = '', authorization = '', trustLoopback = false } = {},
): Promise<{ status: number; health: Health; lines: Record<string, unknown>[] }> {
  const health = new Health({ clock: systemClock, checkTimeoutMs: 1000, minIntervalMs: 0, wedgedAfterMs: 5000 });
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ base: null }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  // Like koa: 404 until something is set, 200 once a body is set without a status.
  let status = 404;
  let explicit = false;
  let body: unknown;
  const ctx = {
    path: '/healthx/readiness/close',
    method: 'POST',
    req: { socket: { remoteAddress: peer } },
    state: { requestId: 'r1' },
    get status() {
      return status;
    },
    set status(value: number) {
      status = value;
      explicit = true;
    },
    get body() {
      return body;
    },
    set body(value: unknown) {
      body = value;
      if (!explicit) status = 200;
    },
    get: (name: string) => (name === 'authorization' ? authorization : ''),
    set: () => {},
  };
  await healthx(health, { token, trustLoopback }, logger)(ctx as unknown as Context, async () => {});
  return { status, health, lines: lines.filter((l) => l.level === 40) };
}

/** An IPv4 address of this machine that is not loopback: a request to it arrives from that address. */
function nonLoopbackIPv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
}
