import { connect } from 'node:net';
import type { Descriptor, ProbeName } from './files.js';
import type { Answer, ProbeTransport } from './main.js';

/**
 * http commands are probed at their own /healthx routes on loopback.
 * The request is written by hand on a raw socket: loading node:http costs
 * ~10 ms, more than the exec probe's cold-start target (≤ 1.5× `node -e 0`)
 * leaves for the whole request.
 */
export const httpTransport: ProbeTransport = {
  async ask(descriptor: Descriptor, probe: ProbeName, timeoutMs: number): Promise<Answer> {
    const port = descriptor.http?.port;
    if (!port) return { ok: false, detail: `the descriptor of ${descriptor.command} names no http port` };
    const response = await request(port, 'GET', `/healthx/${probe}`, {}, timeoutMs);
    if (response.status === 200) return { ok: true };
    if (response.status === 503) return { ok: false, detail: field(response.body, 'reason') ?? 'unhealthy (503)' };
    return { ok: false, detail: `unexpected answer ${response.status} from http://127.0.0.1:${port}/healthx/${probe}` };
  },

  async flip(descriptor: Descriptor, probe: ProbeName, open: boolean, timeoutMs: number, env): Promise<Answer> {
    const port = descriptor.http?.port;
    if (!port) return { ok: false, detail: `the descriptor of ${descriptor.command} names no http port` };
    const action = open ? 'open' : 'close';
    const token = env.DIONYSUS_CONTROL_TOKEN;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const response = await request(port, 'POST', `/healthx/${probe}/${action}`, headers, timeoutMs);
    if (response.status === 200) return { ok: true, detail: `switch ${action}` };
    return {
      ok: false,
      detail: `switch refused (${response.status}): ${field(response.body, 'error') ?? 'no reason given'}`,
    };
  },
};

interface Response {
  status: number;
  body: string;
}

function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer from 127.0.0.1:${port} within ${timeoutMs} ms`)),
    );
    socket.on('connect', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.end(
        `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\ncontent-length: 0\r\n${extra}\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'ECONNREFUSED' ? `nothing listens on 127.0.0.1:${port}` : error.message)),
    );
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!match) return reject(new Error(`not an HTTP answer from 127.0.0.1:${port}`));
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(match[1]), body: split >= 0 ? text.slice(split + 4) : '' });
    });
  });
}

/** A string field of a JSON body (the report's `reason`, an error's `error`), if there is one. */
function field(body: string, key: 'reason' | 'error'): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
