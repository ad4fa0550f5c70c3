import { Agent, request } from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { GreeterClient } from '../../proto/gen/helloworld/helloworld.js';
import type { Pod, PortName } from './kubelet.js';

/**
 * A Service in miniature: its endpoints are the pods that are Ready and not
 * terminating, read at the moment a request (or connection) is routed, so a
 * pod leaves the endpoints the instant it starts terminating or its Ready
 * condition turns off, as the EndpointSlice controller does (without the
 * propagation lag a cluster adds, which the drain delay covers).
 *
 * Two ways in, as in a cluster:
 * - `pick()`: per-request routing, what an ingress controller or a service
 *   mesh does (each request to an endpoint chosen round-robin);
 * - `clusterIp(port)`: what kube-proxy does for a ClusterIP, routing each new
 *   TCP connection; a keep-alive connection stays with its pod until one side
 *   closes it, so the pod's own drain decides whether requests on it fail.
 */
export class Service {
  readonly #pods = new Set<Pod>();
  #next = 0;

  /** A pod the selector matches, from its creation on; it receives traffic only while Ready. */
  add(pod: Pod): void {
    this.#pods.add(pod);
  }

  endpoints(): Pod[] {
    return [...this.#pods].filter((pod) => pod.ready && !pod.terminating && !pod.exit);
  }

  /** The next endpoint, round-robin; undefined when there is none. */
  pick(): Pod | undefined {
    const endpoints = this.endpoints();
    if (endpoints.length === 0) return undefined;
    return endpoints[this.#next++ % endpoints.length];
  }

  /** A virtual IP for one named port of the pods: a TCP proxy that picks an endpoint per connection. */
  async clusterIp(port: PortName): Promise<ClusterIp> {
    const ip = new ClusterIp(this, port);
    await ip.listen();
    return ip;
  }
}

/** kube-proxy for one Service port: each accepted connection is forwarded to the endpoint picked when it opened. */
export class ClusterIp {
  readonly #service: Service;
  readonly #port: PortName;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Connections opened per pod. */
  readonly connections: Record<string, number> = {};

  constructor(service: Service, port: PortName) {
    this.#service = service;
    this.#port = port;
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.#forward(client));
  }

  /** `127.0.0.1:<port>` once listening. */
  get address(): string {
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  close(): void {
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
  }

  #forward(client: Socket): void {
    const pod = this.#service.pick();
    const port = pod?.port(this.#port);
    // No endpoint: the client sees its connection reset, as it would see a REJECT rule.
    if (!pod || port === undefined) return void client.resetAndDestroy();
    this.connections[pod.name] = (this.connections[pod.name] ?? 0) + 1;
    const upstream = connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    }
    // Bytes and FINs pass through; a reset on one side resets the other, as with NAT.
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.resetAndDestroy());
    upstream.on('error', () => client.resetAndDestroy());
  }
}

export interface LoadReport {
  readonly successes: number;
  readonly failures: number;
  /** Failures by reason. */
  readonly reasons: Readonly<Record<string, number>>;
  /** Successes by pod name, when the client routes (per-request routing). */
  readonly byPod: Readonly<Record<string, number>>;
  /** The first failures with time and pod, for assertion messages. */
  readonly samples: readonly string[];
  readonly durationMs: number;
}

/** Sends one request or call; resolves with the pod it routed to when it chose one, rejects with the reason. */
interface Transport {
  send(): Promise<Pod | undefined>;
  close(): void;
}

export interface LoadOptions {
  /** Requests in flight at once, each loop sending its next one as soon as the last ended. @default 4 */
  readonly concurrency?: number;
  /** Per request or call; past it the request counts as failed. @default 5000 */
  readonly timeoutMs?: number;
}

/** Constant closed-loop load, counting successes and failures with reasons. */
export class Load {
  readonly #transport: Transport;
  readonly #concurrency: number;
  readonly #reasons: Record<string, number> = {};
  readonly #byPod: Record<string, number> = {};
  readonly #samples: string[] = [];
  #successes = 0;
  #failures = 0;
  #stopping = false;
  #loops: Promise<void>[] = [];
  #t0 = 0;

  constructor(transport: Transport, concurrency: number) {
    this.#transport = transport;
    this.#concurrency = concurrency;
  }

  /** Live count of successes. */
  get successes(): number {
    return this.#successes;
  }

  /** Live count of successes a pod answered (per-request routing only). */
  servedBy(pod: Pod): number {
    return this.#byPod[pod.name] ?? 0;
  }

  start(): this {
    this.#t0 = performance.now();
    this.#loops = Array.from({ length: this.#concurrency }, () => this.#loop());
    return this;
  }

  /** Lets the requests in flight finish, then reports. */
  async stop(): Promise<LoadReport> {
    this.#stopping = true;
    await Promise.all(this.#loops);
    this.#transport.close();
    return {
      successes: this.#successes,
      failures: this.#failures,
      reasons: { ...this.#reasons },
      byPod: { ...this.#byPod },
      samples: [...this.#samples],
      durationMs: performance.now() - this.#t0,
    };
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      try {
        const pod = await this.#transport.send();
        this.#successes++;
        if (pod) this.#byPod[pod.name] = (this.#byPod[pod.name] ?? 0) + 1;
      } catch (error) {
        this.#fail(error instanceof Error ? error.message : String(error));
        // A failure can be instant (no endpoint): do not spin.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  #fail(reason: string): void {
    this.#failures++;
    this.#reasons[reason] = (this.#reasons[reason] ?? 0) + 1;
    if (this.#samples.length < 20) this.#samples.push(`${(performance.now() - this.#t0).toFixed(0)}ms: ${reason}`);
  }
}

/** Routes each request through the Service and labels its failure with the pod's name and state. */
function routed(service: Service, send: (pod: Pod) => Promise<void>): () => Promise<Pod> {
  return async () => {
    const pod = service.pick();
    if (!pod) throw new Error('no ready endpoint');
    try {
      await send(pod);
      return pod;
    } catch (error) {
      const state = pod.exit ? 'exited' : pod.terminating ? 'terminating' : 'serving';
      throw new Error(`${(error as Error).message} (from ${pod.name}, ${state})`);
    }
  };
}

/**
 * `GET /hello?name=load` with keep-alive agents: through a Service, one agent
 * per endpoint and each request routed; through a ClusterIP, one agent whose
 * pooled connections each stay with the pod they reached.
 */
export function httpLoad(target: Service | ClusterIp, options: LoadOptions = {}): Load {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const agents = new Map<unknown, Agent>();
  const agentFor = (key: unknown): Agent => {
    let agent = agents.get(key);
    if (!agent) agents.set(key, (agent = new Agent({ keepAlive: true })));
    return agent;
  };
  const get = (address: string, agent: Agent): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const [host, port] = address.split(':') as [string, string];
      const req = request({ host, port, path: '/hello?name=load', agent, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('error', (error: NodeJS.ErrnoException) => reject(new Error(error.code ?? error.message)));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
          else if (body !== '{"message":"hello load"}') reject(new Error(`unexpected body ${body.slice(0, 80)}`));
          else resolve();
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => reject(new Error(error.code ?? error.message)));
      req.end();
    });
  const send =
    target instanceof Service
      ? routed(target, (pod) => get(`127.0.0.1:${pod.port('http')}`, agentFor(pod)))
      : () => get(target.address, agentFor(target)).then(() => undefined);
  const close = (): void => {
    for (const agent of agents.values()) agent.destroy();
  };
  return new Load({ send, close }, options.concurrency ?? 4);
}

/**
 * helloworld.Greeter/SayHello: through a Service, one grpc-js client (one
 * channel) per endpoint and calls spread over the ready ones; through a
 * ClusterIP, one client whose single connection stays with one pod until
 * that pod sends GOAWAY.
 */
export function grpcLoad(target: Service | ClusterIp, options: LoadOptions = {}): Load {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const clients = new Map<unknown, GreeterClient>();
  const clientFor = (key: unknown, address: string): GreeterClient => {
    let client = clients.get(key);
    if (!client) clients.set(key, (client = new GreeterClient(address, credentials.createInsecure())));
    return client;
  };
  const call = (client: GreeterClient): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      client.sayHello({ name: 'load' }, new Metadata(), { deadline: Date.now() + timeoutMs }, (error, reply) => {
        if (error) reject(new Error(`${status[error.code] ?? error.code}: ${error.details}`));
        else if (reply.message !== 'hello load') reject(new Error(`unexpected reply ${reply.message}`));
        else resolve();
      });
    });
  const send =
    target instanceof Service
      ? routed(target, (pod) => call(clientFor(pod, `127.0.0.1:${pod.port('grpc')}`)))
      : () => call(clientFor(target, target.address)).then(() => undefined);
  const close = (): void => {
    for (const client of clients.values()) client.close();
  };
  return new Load({ send, close }, options.concurrency ?? 4);
}
