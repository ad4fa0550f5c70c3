import {
  type Descriptor,
  descriptorFile,
  ensureDir,
  entryOf,
  removeQuietly,
  type Transport,
  writeJsonAtomic,
} from '../probe/files.js';

/**
 * What a running command publishes about itself: ports and files, gathered
 * from the steps and runners, then written as the runtime descriptor once
 * the run has started and removed at exit.
 */
export class RuntimeInfo {
  readonly dir: string;
  readonly app: string;
  readonly command: string;
  readonly transport: Transport;
  readonly #fields: Record<string, unknown> = {};
  #written = false;

  constructor(options: { dir: string; app: string; command: string; transport: Transport }) {
    this.dir = options.dir;
    this.app = options.app;
    this.command = options.command;
    this.transport = options.transport;
  }

  /** Records an endpoint or a file for the descriptor (e.g. `set('http', { port })`). */
  set(key: 'admin' | 'http' | 'grpc' | 'heartbeat' | 'control', value: unknown): void {
    this.#fields[key] = value;
    if (this.#written) this.write();
  }

  /** A recorded endpoint or file, e.g. `get('http')` → `{ port }`. */
  get(key: 'admin' | 'http' | 'grpc' | 'heartbeat' | 'control'): unknown {
    return this.#fields[key];
  }

  get descriptorPath(): string {
    return descriptorFile(this.dir, this.command);
  }

  write(): void {
    ensureDir(this.dir);
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
    writeJsonAtomic(this.descriptorPath, descriptor);
    this.#written = true;
  }

  remove(): void {
    if (!this.#written) return;
    this.#written = false;
    removeQuietly(this.descriptorPath);
  }
}
