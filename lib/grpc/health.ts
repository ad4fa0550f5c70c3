import { Metadata, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  type HealthControlServer,
  type SetSwitchRequest,
  type SetSwitchResponse,
} from '../../proto/gen/dionysus/health/v1/control.js';
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
  HealthCheckResponse_ServingStatus as Serving,
} from '../../proto/gen/grpc/health/v1/health.js';
import { type AccessOptions, healthAccess } from '../health/access.js';
import { type Health, type Probe, publicReport } from '../health/health.js';
import { isProbeName } from '../probe/files.js';
import { REASON_TRAILER } from './reason.js';

/**
 * The standard grpc.health.v1.Health service. `startup`, `liveness` and
 * `readiness` name those probes; `""` and every served service name map to
 * readiness (what Kubernetes' gRPC probe and grpc_health_probe ask); other
 * names are NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
 */
export class HealthService {
  readonly #health: Health;
  readonly #services: ReadonlySet<string>;
  readonly #pollMs: number;
  readonly #watchers = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();
  readonly #access: ReturnType<typeof healthAccess>;

  constructor(health: Health, services: readonly string[], pollMs: number, access: AccessOptions) {
    this.#health = health;
    this.#access = healthAccess(access);
    this.#services = new Set(['', 'grpc.health.v1.Health', ...services]);
    this.#pollMs = Math.max(pollMs, 100);
  }

  get implementation(): HealthServer {
    return {
      check: (call, callback) => void this.#check(call, callback),
      watch: (call) => this.#watch(call),
    };
  }

  /** Ends every Watch stream: a draining server must not wait for them. */
  endWatches(): void {
    for (const call of this.#watchers) call.end();
    this.#watchers.clear();
  }

  #probeOf(service: string): Probe | undefined {
    if (isProbeName(service)) return service;
    return this.#services.has(service) ? 'readiness' : undefined;
  }

  async #status(probe: Probe): Promise<Serving> {
    return (await this.#health.report(probe)).status === 'pass' ? Serving.SERVING : Serving.NOT_SERVING;
  }

  async #check(
    call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
    callback: sendUnaryData<HealthCheckResponse>,
  ): Promise<void> {
    const probe = this.#probeOf(call.request.service);
    if (!probe) {
      callback({ code: status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
      return;
    }
    const report = await this.#health.report(probe);
    if (report.status === 'pass') {
      callback(null, { status: Serving.SERVING });
      return;
    }
    // The message has only a status: the reason travels in the trailers. Like /healthx, a peer without
    // the control token learns which check fails, not its error message (a driver's names hosts and users).
    const trusted = this.#access(String(call.metadata.get('authorization')[0] ?? ''), peerAddress(call.getPeer()));
    const told = trusted.trusted ? report : publicReport(report);
    const trailer = new Metadata();
    trailer.set(REASON_TRAILER, Buffer.from(told.reason ?? `${probe} fails`, 'utf8'));
    callback(null, { status: Serving.NOT_SERVING }, trailer);
  }

  #watch(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
    const probe = this.#probeOf(call.request.service);
    this.#watchers.add(call);
    if (!probe) {
      // The stream stays open, as the protocol asks; still tracked, so a draining server ends it too.
      call.once('cancelled', () => this.#watchers.delete(call));
      call.once('close', () => this.#watchers.delete(call));
      call.write({ status: Serving.SERVICE_UNKNOWN });
      return;
    }
    let last: Serving | undefined;
    const send = async (): Promise<void> => {
      const now = await this.#status(probe);
      if (now !== last && !call.writableEnded && !call.cancelled) {
        last = now;
        call.write({ status: now });
      }
    };
    // Gate and switch changes push at once; checks are re-evaluated at their minimum interval.
    const unsubscribe = this.#health.onChange(() => void send());
    const timer = setInterval(() => void send(), this.#pollMs);
    const stop = (): void => {
      clearInterval(timer);
      unsubscribe();
      this.#watchers.delete(call);
    };
    call.once('cancelled', stop);
    call.once('finish', stop);
    call.once('close', stop);
    void send();
  }
}

/** dionysus.health.v1.HealthControl: trusted peers only (see ../health/access.ts). */
export function healthControl(health: Health, options: AccessOptions, logger: Logger): HealthControlServer {
  const access = healthAccess(options);
  return {
    setSwitch(
      call: ServerUnaryCall<SetSwitchRequest, SetSwitchResponse>,
      callback: sendUnaryData<SetSwitchResponse>,
    ): void {
      const peer = call.getPeer();
      const { probe, open } = call.request;
      const allowed = access(String(call.metadata.get('authorization')[0] ?? ''), peerAddress(peer));
      if (!allowed.trusted) {
        logger.warn({ peer, probe, open }, `refused health switch change: ${allowed.reason}`);
        callback({ code: status.PERMISSION_DENIED, details: allowed.reason });
        return;
      }
      if (!isProbeName(probe)) {
        callback({
          code: status.INVALID_ARGUMENT,
          details: `probe must be startup, liveness or readiness, got ${JSON.stringify(probe)}`,
        });
        return;
      }
      health.setSwitch(probe, open);
      logger.info({ peer, probe, open }, `health switch of ${probe} set to ${open ? 'open' : 'close'}`);
      callback(null, { probe, switch: health.switchOf(probe) });
    },
  };
}

/** The address of a peer as grpc-js names it (`127.0.0.1:port`, `[::1]:port`, older versions `ipv4:…`), without the port. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[([^\]]*)\](?::\d+)?$/.exec(bare);
  if (v6) return v6[1] as string;
  return bare.replace(/:\d+$/, '');
}
