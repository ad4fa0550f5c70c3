import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { listen } from '../config/listen.js';
import { isProfilePath, type ProfileOptions, Profiles } from './profiles.js';

export interface AdminOptions {
  /** Renders at most this often; scrapes in between get the last render. @default 1000 */
  readonly minIntervalMs?: number;
  /** Milliseconds, monotonic; tests pass a fake clock's. */
  readonly now?: () => number;
  /** Serves CPU profiles, heap snapshots and runtime reports (behind the control token). */
  readonly profiles?: ProfileOptions;
}

interface Render {
  readonly at: number;
  readonly text: Promise<string>;
  settled: boolean;
}

/**
 * The admin server of long-running commands: `GET /metrics` in Prometheus
 * text format, on a bare node:http server (no koa on this path). It shares
 * the service's event loop, and rendering a registry costs milliseconds: so
 * it renders at most once per `minIntervalMs`, and concurrent scrapes share
 * one render. A scrape flood then costs the service a render per interval
 * and a write per scrape. With `profiles`, it also serves the /debug routes
 * of ./profiles.ts.
 */
export class AdminServer {
  readonly #registry: Registry;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  #render: Render | undefined;
  #server: Server | undefined;
  readonly #profiles: Profiles | undefined;

  constructor(registry: Registry, options: AdminOptions = {}) {
    this.#registry = registry;
    this.#profiles = options.profiles ? new Profiles(options.profiles) : undefined;
    this.#minIntervalMs = options.minIntervalMs ?? 1_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The registry's text: the last render while it is fresh or still running, else a new one. */
  metrics(): Promise<string> {
    const now = this.#now();
    const last = this.#render;
    if (last && (!last.settled || now - last.at < this.#minIntervalMs)) return last.text;
    const render: Render = { at: now, text: this.#registry.metrics(), settled: false };
    this.#render = render;
    render.text.then(
      () => {
        render.settled = true;
      },
      () => {
        // A failed render is not served again: the next scrape tries anew.
        if (this.#render === render) this.#render = undefined;
      },
    );
    return render.text;
  }

  /** The bound port (the real one when configured as 0), once listening. */
  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  async listen(port: number, host: string): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0] as string;
      if (this.#profiles && isProfilePath(path)) {
        void this.#profiles.handle(path, new URL(req.url ?? '/', 'http://admin'), req, res);
        return;
      }
      if (path !== '/metrics') {
        const served = this.#profiles
          ? 'GET /metrics, /debug/profile, /debug/heapsnapshot and /debug/runtime'
          : 'GET /metrics';
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: the admin server serves ${served}\n`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      this.metrics().then(
        (text) =>
          res.writeHead(200, { 'content-type': this.#registry.contentType }).end(req.method === 'HEAD' ? '' : text),
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n'),
      );
    });
    server.keepAliveTimeout = 5_000;
    await listen(server, 'admin', port, host);
    this.#server = server;
  }

  /** Stops accepting and closes idle connections; harmless when not listening or called twice. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    this.#profiles?.cancel();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
