import { networkInterfaces } from 'node:os';
import { Metadata, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { expect } from 'chai';
import { Command, Main, ReadinessCheck } from 'dionysus';
import { startServer, type TestServer } from 'dionysus/testing';
import pino from 'pino';
import { healthControl } from '../../lib/grpc/health.js';
import { Health } from '../../lib/health/health.js';
import { systemClock } from '../../lib/lifecycle/clock.js';
import type { SetSwitchRequest, SetSwitchResponse } from '../../proto/gen/dionysus/health/v1/control.js';
import { App } from '../../samples/app/app.js';
import { Greeter } from '../../samples/app/greeter.js';
import { GreeterGrpc } from '../../samples/app/services/greeter.js';
import {
  bearer,
  type Clients,
  check,
  clientsFor,
  closeClients,
  codeName,
  failure,
  Serving,
  unary,
  Watcher,
} from './clients.js';

// grpc.health.v1.Health and dionysus.health.v1.HealthControl of a grpc
// command running in-process, across its lifecycle.

/** The sample's Greeter, behind a readiness check that always fails. */
@Command('grpc', { services: [GreeterGrpc] })
class DependencyDownCommand {
  @ReadinessCheck('dependency')
  dependencyReachable(): void {
    throw new Error('dependency unreachable');
  }
}

@Main({ name: 'dependency-down', commands: [DependencyDownCommand], providers: [Greeter] })
class DependencyDownApp {}

const setSwitch = (clients: Clients, request: SetSwitchRequest, metadata = new Metadata()) =>
  unary<SetSwitchResponse>((done) => clients.control.setSwitch(request, metadata, done));

describe('gRPC health of a grpc command', () => {
  const print = console.log;
  let server: TestServer | undefined;

  beforeEach(() => {
    console.log = () => {}; // the sample's own hooks print to the console
  });

  afterEach(async () => {
    closeClients();
    await server?.stop();
    server = undefined;
    console.log = print;
  });

  async function serve(
    app: Parameters<typeof startServer>[0] = App,
    options: Parameters<typeof startServer>[2] = {},
  ): Promise<Clients> {
    server = await startServer(app, 'grpc', options);
    return clientsFor(server.address);
  }

  describe('Check', () => {
    it('answers SERVING for "", every served service, and the three probes while running', async () => {
      const { health } = await serve();
      for (const service of ['', 'helloworld.Greeter', 'grpc.health.v1.Health', 'readiness', 'liveness', 'startup']) {
        expect(await check(health, service), service).to.equal('SERVING');
      }
    });

    it('answers NOT_FOUND for a name that is neither a probe nor a served service', async () => {
      const { health } = await serve();
      const error = await failure(check(health, 'nope'));
      expect([codeName(error.code), error.details]).to.deep.equal(['NOT_FOUND', 'unknown service "nope"']);
    });

    it('answers NOT_SERVING for readiness, "" and served services while a readiness check fails; liveness stays SERVING', async () => {
      const { health } = await serve(DependencyDownApp);
      for (const service of ['readiness', '', 'helloworld.Greeter']) {
        expect(await check(health, service), service).to.equal('NOT_SERVING');
      }
      expect(await check(health, 'liveness')).to.equal('SERVING');
      expect(await check(health, 'startup')).to.equal('SERVING');
    });
    it('tells a peer without the control token which check fails in the reason trailer, not its error message', async () => {
      const { health } = await serve(DependencyDownApp, { settings: { grpc: { controlToken: 't0ken' } } });
      const reasonOf = (metadata: Metadata): Promise<string> =>
        new Promise((resolve, reject) => {
          const call = health.check({ service: 'readiness' }, metadata, (error) => error && reject(error));
          call.on('status', (s) => resolve(String(s.metadata.get('dionysus-reason-bin')[0] ?? '')));
        });
      expect(await reasonOf(new Metadata())).to.equal('check dependency failed');
      expect(await reasonOf(bearer('t0ken'))).to.equal('check dependency failed: dependency unreachable');
    });
  });

  describe('Watch', () => {
    it('streams SERVING first, then NOT_SERVING the moment a shutdown begins, then ends', async () => {
      const { health } = await serve(App, { settings: { shutdown: { drainDelayMs: 300 } } });
      const watch = new Watcher(health, 'readiness');
      await watch.next(Serving.SERVING);
      const signalled = performance.now();
      let stoppedAt = 0;
      const stopped = (server as TestServer).stop().then((result) => {
        stoppedAt = performance.now();
        return result;
      });
      server = undefined;
      const notServing = await watch.next(Serving.NOT_SERVING);
      expect(notServing - signalled, 'NOT_SERVING after the signal').to.be.below(150);
      expect(stoppedAt, 'the server stopped before Watch said NOT_SERVING').to.equal(0);
      // The server does not wait on watchers: their streams end when the drain begins.
      expect(await watch.end()).to.equal('ok');
      expect(watch.statuses).to.deep.equal([Serving.SERVING, Serving.NOT_SERVING]);
      const result = await stopped;
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(stoppedAt - signalled).to.be.at.least(290);
    });

    it('streams switch changes as they happen', async () => {
      const clients = await serve(App, { settings: { health: { trustLoopback: true } } });
      const watch = new Watcher(clients.health, '');
      await watch.next(Serving.SERVING);
      await setSwitch(clients, { probe: 'readiness', open: false });
      await watch.next(Serving.NOT_SERVING, 500);
      await setSwitch(clients, { probe: 'readiness', open: true });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(watch.statuses).to.deep.equal([Serving.SERVING, Serving.NOT_SERVING, Serving.SERVING]);
    });

    it('sends SERVICE_UNKNOWN for an unknown name and keeps the stream open', async () => {
      const { health } = await serve();
      const watch = new Watcher(health, 'nope');
      await watch.next(Serving.SERVICE_UNKNOWN);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(watch.ended).to.equal(undefined);
      expect(watch.statuses).to.deep.equal([Serving.SERVICE_UNKNOWN]);
    });

    it('does not hold a graceful stop open with a Watch on an unknown name', async () => {
      const { health } = await serve(App, { settings: { shutdown: { timeoutMs: 1_000 } } });
      const watch = new Watcher(health, 'nope');
      await watch.next(Serving.SERVICE_UNKNOWN);
      const result = await (server as TestServer).stop();
      server = undefined;
      expect(result.exitCode, result.stderr).to.equal(0);
      expect(await watch.end()).to.equal('ok');
    });
  });

  describe('HealthControl/SetSwitch', () => {
    it('refuses a loopback peer without the token with PERMISSION_DENIED saying how to configure one', async () => {
      const clients = await serve();
      const error = await failure(setSwitch(clients, { probe: 'readiness', open: false }));
      expect(codeName(error.code)).to.equal('PERMISSION_DENIED');
      expect(error.details).to.match(/^health switches on this port need a control token: set DIONYSUS_CONTROL_TOKEN/);
      expect(await check(clients.health, 'readiness')).to.equal('SERVING');
    });

    it('flips a switch for a loopback peer when loopback is trusted: NOT_SERVING when closed, SERVING when reopened', async () => {
      const clients = await serve(App, { settings: { health: { trustLoopback: true } } });
      expect(await setSwitch(clients, { probe: 'readiness', open: false })).to.deep.equal({
        probe: 'readiness',
        switch: 'closed',
      });
      for (const service of ['readiness', '', 'helloworld.Greeter']) {
        expect(await check(clients.health, service), service).to.equal('NOT_SERVING');
      }
      expect(await check(clients.health, 'liveness')).to.equal('SERVING');
      expect(await setSwitch(clients, { probe: 'readiness', open: true })).to.deep.equal({
        probe: 'readiness',
        switch: 'open',
      });
      expect(await check(clients.health, 'readiness')).to.equal('SERVING');
    });

    it('answers INVALID_ARGUMENT for a name that is not a probe', async () => {
      const clients = await serve(App, { settings: { grpc: { controlToken: 't' } } });
      const error = await failure(setSwitch(clients, { probe: 'ready', open: false }, bearer('t')));
      expect([codeName(error.code), error.details]).to.deep.equal([
        'INVALID_ARGUMENT',
        'probe must be startup, liveness or readiness, got "ready"',
      ]);
    });

    it('requires `authorization: Bearer <token>` when a control token is configured, even on loopback', async () => {
      const clients = await serve(App, { settings: { grpc: { controlToken: 't' } } });
      const request = { probe: 'readiness', open: false };
      const missing = await failure(setSwitch(clients, request));
      expect([codeName(missing.code), missing.details]).to.deep.equal([
        'PERMISSION_DENIED',
        'a bearer token (the control token) is required to change health switches',
      ]);
      expect(codeName((await failure(setSwitch(clients, request, bearer('wrong')))).code)).to.equal(
        'PERMISSION_DENIED',
      );
      expect(await check(clients.health, 'readiness')).to.equal('SERVING');
      expect(await setSwitch(clients, request, bearer('t'))).to.deep.equal({ probe: 'readiness', switch: 'closed' });
      expect(await check(clients.health, 'readiness')).to.equal('NOT_SERVING');
    });

    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address?.family === 'IPv4' && !address.internal)?.address;

    it(`refuses a peer that is not loopback with PERMISSION_DENIED (${external ? `calling from ${external}` : 'a fake peer: this host has no external IPv4 address'})`, async () => {
      if (external) {
        await serve(App, { settings: { grpc: { host: '0.0.0.0' }, health: { trustLoopback: true } } });
        const clients = clientsFor(`${external}:${server?.port}`);
        const error = await failure(setSwitch(clients, { probe: 'readiness', open: false }));
        expect(codeName(error.code)).to.equal('PERMISSION_DENIED');
        expect(error.details).to.match(/need a control token/);
        expect(await check(clients.health, 'readiness')).to.equal('SERVING');
      } else {
        expect(await controlFrom('10.1.2.3:5000', { trustLoopback: true })).to.include({ code: 'PERMISSION_DENIED' });
      }
    });
  });
});

/** Calls `healthControl().setSwitch` with a fake call from `peer`; resolves with the answer. */
async function controlFrom(
  peer: string,
  { token = '', trustLoopback = false } = {},
  metadata = new Metadata(),
): Promise<Record<string, unknown>> {
  const health = new Health({
    clock: systemClock,
    checkTimeoutMs: 1_000,
    minIntervalMs: 0,
    wedgedAfterMs: 10_000,
  });
  const control = healthControl(health, { token, trustLoopback }, pino({ level: 'silent' }));
  const call = { getPeer: () => peer, request: { probe: 'readiness', open: false }, metadata };
  const answer = await new Promise<Record<string, unknown>>((resolve) => {
    const callback: sendUnaryData<SetSwitchResponse> = (error, reply) =>
      resolve(error ? { code: codeName(error.code ?? 0), details: error.details } : { ...reply });
    control.setSwitch(call as unknown as ServerUnaryCall<SetSwitchRequest, SetSwitchResponse>, callback);
  });
  return { ...answer, readiness: health.switchOf('readiness') };
}

describe('healthControl() peer check', () => {
  for (const peer of ['127.0.0.1:5000', '[::1]:5000', '[::ffff:127.0.0.1]:5000', 'ipv4:127.0.0.1:5000']) {
    it(`accepts the loopback peer ${peer} only when loopback is trusted`, async () => {
      expect(await controlFrom(peer, { trustLoopback: true })).to.deep.equal({
        probe: 'readiness',
        switch: 'closed',
        readiness: 'closed',
      });
      expect(await controlFrom(peer)).to.include({ code: 'PERMISSION_DENIED', readiness: 'open' });
    });
  }

  for (const peer of [
    '10.1.2.3:5000',
    '[::ffff:10.1.2.3]:5000',
    '[fd00::2]:5000',
    '128.0.0.1:5000',
    '127.0.0.6:5000',
  ]) {
    it(`refuses the peer ${peer}, even with loopback trusted`, async () => {
      expect(await controlFrom(peer, { trustLoopback: true })).to.include({
        code: 'PERMISSION_DENIED',
        readiness: 'open',
      });
    });
  }

  it('accepts any peer with the configured token, and refuses loopback without it', async () => {
    expect(await controlFrom('10.1.2.3:5000', { token: 't' }, bearer('t'))).to.include({ switch: 'closed' });
    expect(await controlFrom('127.0.0.1:5000', { token: 't' })).to.include({
      code: 'PERMISSION_DENIED',
      readiness: 'open',
    });
  });
});
