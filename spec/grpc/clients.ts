import {
  type CallOptions,
  type Client,
  type ClientReadableStream,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { HealthControlClient } from '../../proto/gen/dionysus/health/v1/control.js';
import {
  type HealthCheckResponse,
  HealthClient,
  HealthCheckResponse_ServingStatus as Serving,
} from '../../proto/gen/grpc/health/v1/health.js';
import { GreeterClient } from '../../proto/gen/helloworld/helloworld.js';

/**
 * Real grpc-js clients for the gRPC specs: one set per address, each with
 * its own connection (a local subchannel pool), so a spec that asks for "a
 * new connection" gets one instead of grpc-js' shared subchannel.
 */

export { Serving, status };

export interface Clients {
  readonly greeter: GreeterClient;
  readonly health: HealthClient;
  readonly control: HealthControlClient;
}

const opened = new Set<Client>();
const watching = new Set<Watcher>();

/** Clients for `address` (`host:port`); `closeClients` (in `afterEach`) closes them. */
export function clientsFor(address: string, options: Record<string, number> = {}): Clients {
  const channel = { 'grpc.use_local_subchannel_pool': 1, ...options };
  const made = {
    greeter: new GreeterClient(address, credentials.createInsecure(), channel),
    health: new HealthClient(address, credentials.createInsecure(), channel),
    control: new HealthControlClient(address, credentials.createInsecure(), channel),
  };
  for (const client of Object.values(made)) opened.add(client);
  return made;
}

/** Cancels every Watch and closes every client `clientsFor` made. */
export function closeClients(): void {
  for (const watcher of watching) watcher.cancel();
  watching.clear();
  for (const client of opened) client.close();
  opened.clear();
}

type Callback<T> = (error: ServiceError | null, reply?: T) => void;

/** Runs one unary call: `await unary((done) => greeter.sayHello({ name: 'x' }, done))`. */
export function unary<T>(start: (done: Callback<T>) => unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, reply) => (error ? reject(error) : resolve(reply as T)));
  });
}

/** The status error a call ended with; fails the test if it succeeded. */
export async function failure(call: Promise<unknown>): Promise<ServiceError> {
  let reply: unknown;
  try {
    reply = await call;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error(`the call succeeded (${JSON.stringify(reply)}) but a status error was expected`);
}

/** The name of a status code, for messages that read like grpc's. */
export function codeName(code: number): string {
  return status[code] ?? `code ${code}`;
}

/** Options for a call with a deadline `ms` from now. */
export function within(ms: number): Partial<CallOptions> {
  return { deadline: Date.now() + ms };
}

export function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** Everything a server stream sent, and how it ended. */
export interface Collected<T> {
  readonly messages: T[];
  /** Absent when the stream ended with OK. */
  readonly error?: ServiceError;
}

export function collect<T>(stream: ClientReadableStream<T>): Promise<Collected<T>> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    stream.on('data', (message: T) => messages.push(message));
    stream.on('error', (error: ServiceError) => resolve({ messages, error }));
    stream.on('end', () => resolve({ messages }));
  });
}

/** A Health/Watch stream, recorded as it arrives. */
export class Watcher {
  /** Every status received, with when it arrived (performance.now()). */
  readonly seen: { status: Serving; at: number }[] = [];
  /** Set once the stream ended: 'ok' or the status error's code name. */
  ended: string | undefined;
  readonly #stream: ClientReadableStream<HealthCheckResponse>;
  readonly #waiters = new Set<() => void>();

  constructor(health: HealthClient, service: string) {
    this.#stream = health.watch({ service });
    watching.add(this);
    this.#stream.on('data', (reply: HealthCheckResponse) => {
      this.seen.push({ status: reply.status, at: performance.now() });
      this.#notify();
    });
    this.#stream.on('error', (error: ServiceError) => {
      this.ended ??= codeName(error.code);
      this.#notify();
    });
    this.#stream.on('end', () => {
      this.ended ??= 'ok';
      this.#notify();
    });
  }

  get statuses(): Serving[] {
    return this.seen.map((s) => s.status);
  }

  /** Resolves with when `wanted` arrived (performance.now()); fails if the stream ends first or after `timeoutMs`. */
  next(wanted: Serving, timeoutMs = 3_000): Promise<number> {
    return this.#until(
      () => this.seen.find((s) => s.status === wanted)?.at,
      `Watch to send ${Serving[wanted]}`,
      timeoutMs,
    );
  }

  /** Resolves once the stream ended, with how. */
  end(timeoutMs = 3_000): Promise<string> {
    return this.#until(() => this.ended, 'the Watch stream to end', timeoutMs, true);
  }

  cancel(): void {
    this.#stream.cancel();
  }

  #until<T>(value: () => T | undefined, what: string, timeoutMs: number, endOk = false): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = value();
        if (found !== undefined) finish(() => resolve(found));
        else if (this.ended && !endOk) finish(() => reject(new Error(`${what}, but it ended (${this.ended})`)));
      };
      const timer = setTimeout(
        () =>
          finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw ${this.#saw()}`))),
        timeoutMs,
      );
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  #saw(): string {
    return this.seen.map((s) => Serving[s.status]).join(', ') || 'nothing';
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Health/Check for one service name, as the name of the status (`SERVING`, `NOT_SERVING`). */
export async function check(health: HealthClient, service: string): Promise<string> {
  const reply = await unary<HealthCheckResponse>((done) => health.check({ service }, done));
  return Serving[reply.status] ?? String(reply.status);
}

/** Polls `done` until it holds; past the deadline it fails naming `what`. */
export async function eventually(
  done: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 3_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
