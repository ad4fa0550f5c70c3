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
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer from 127.0.0.1:${port} within ${timeoutMs} ms`)),
    );
    socket.on('connect', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      // write, not end: a half-closed socket makes Node's HTTP server abort a response that is not
      // ready within the same tick (any check that awaits I/O). `connection: close` ends it instead.
      socket.write(
        `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\ncontent-length: 0\r\n${extra}\r\n`,
      );
    });
    const settle = (ended: boolean): boolean => {
      const response = parse(received, ended);
      if (response === undefined) return false;
      socket.destroy();
      resolve(response);
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      settle(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'ECONNREFUSED' ? `nothing listens on 127.0.0.1:${port}` : error.message)),
    );
    socket.on('end', () => {
      if (!settle(true)) reject(new Error(`not an HTTP answer from 127.0.0.1:${port}`));
    });
  });
}

/** The status and body once the whole answer has arrived (by its content-length, else at the end); undefined before. */
function parse(received: Buffer, ended: boolean): Response | undefined {
  const split = received.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const head = received.subarray(0, split).toString('latin1');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!match) return undefined;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const body = received.subarray(split + 4);
  if (length ? body.length < Number(length[1]) : !ended) return undefined;
  return { status: Number(match[1]), body: body.toString('utf8') };
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
