import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { listen } from '../config/listen.js';

/**
 * The admin server of long-running commands: `GET /metrics` in Prometheus
 * text format, on a bare node:http server (no koa on this path).
 */
export class AdminServer {
  readonly #registry: Registry;
  #server: Server | undefined;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** The bound port (the real one when configured as 0), once listening. */
  get port(): number | undefined {
    return (this.#server?.address() as AddressInfo | null)?.port;
  }

  async listen(port: number, host: string): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the admin server serves GET /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      this.#registry.metrics().then(
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
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
