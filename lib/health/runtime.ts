import { DionysusError } from '../errors.js';
import type { LifecycleEvents } from '../lifecycle/events.js';
import { type Descriptor, descriptorFile, type Endpoint, entryOf, type Transport } from '../probe/files.js';
import { ensureRuntimeDir, removeQuietly, writeJsonAtomic } from './runtime-files.js';

type Key = 'admin' | 'http' | 'grpc';

/**
 * What a running command publishes about itself: its endpoints, gathered
 * from the steps and runners, then written as the runtime descriptor once
 * the run has started and removed at exit. A failed write is reported (an
 * event, logged at error) and retried every `retryMs` until it succeeds.
 */
export class RuntimeInfo {
  readonly dir: string;
  readonly app: string;
  readonly command: string;
  readonly transport: Transport;
  readonly #events: LifecycleEvents | undefined;
  readonly #retryMs: number;
  readonly #fields: Partial<Record<Key, Endpoint>> = {};
  /** Paths whose last write failed, with that error's message: one event per failure and one per recovery. */
  readonly #failing = new Map<string, string>();
  #published = false;
  #written = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(options: {
    dir: string;
    app: string;
    command: string;
    transport: Transport;
    events?: LifecycleEvents;
    retryMs?: number;
  }) {
    this.dir = options.dir;
    this.app = options.app;
    this.command = options.command;
    this.transport = options.transport;
    this.#events = options.events;
    this.#retryMs = options.retryMs ?? 1_000;
  }

  /**
   * Creates (or checks) the runtime directory and proves a file can be
   * written there; throws naming the directory and the error, so the command
   * fails before PreRun instead of running without probes.
   */
  prepare(): void {
    try {
      ensureRuntimeDir(this.dir);
      const check = `${this.dir}/.write-check.${process.pid}.json`;
      writeJsonAtomic(check, { pid: process.pid });
      removeQuietly(check);
    } catch (error) {
      const message = (error as Error).message;
      throw new DionysusError(
        'config',
        message.includes(this.dir) ? message : `cannot write to the runtime directory ${this.dir}: ${message}`,
        { cause: error, expose: true },
      );
    }
  }

  /** Records an endpoint for the descriptor (e.g. `set('http', { host, port })`). */
  set(key: Key, value: Endpoint): void {
    this.#fields[key] = value;
    if (this.#published) this.write();
  }

  /** A recorded endpoint, e.g. `get('http')` → `{ host, port }`. */
  get(key: Key): Endpoint | undefined {
    return this.#fields[key];
  }

  get descriptorPath(): string {
    return descriptorFile(this.dir, this.command);
  }

  /** Writes the descriptor now and from then on after every change; a failure is retried. */
  write(): void {
    this.#published = true;
    const descriptor: Descriptor = {
      format: 1,
      app: this.app,
      command: this.command,
      transport: this.transport,
      pid: process.pid,
      entry: entryOf(),
      startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
      ...this.#fields,
    };
    const ok = this.writeFile(this.descriptorPath, descriptor);
    if (ok) this.#written = true;
    if (!ok && !this.#retry) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        if (this.#published) this.write();
      }, this.#retryMs).unref();
    }
  }

  /** Writes one runtime file atomically; reports a failure (and the recovery after one). Returns whether it worked. */
  writeFile(path: string, data: unknown): boolean {
    try {
      writeJsonAtomic(path, data);
    } catch (error) {
      const message = (error as Error).message;
      if (this.#failing.get(path) !== message) {
        this.#failing.set(path, message);
        this.#events?.emit({ type: 'runtime:write', command: this.command, path, error: error as Error });
      }
      return false;
    }
    if (this.#failing.delete(path)) this.#events?.emit({ type: 'runtime:write', command: this.command, path });
    return true;
  }

  /** Removes the descriptor, if this process wrote it. */
  remove(): void {
    this.#published = false;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (!this.#written) return;
    this.#written = false;
    removeQuietly(this.descriptorPath);
  }
}

/** The address the probe dials for a server bound to `host`: loopback for a wildcard address. */
export function dialHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
