import { connect } from 'node:net';
import { type Descriptor, type Endpoint, endpointOf, endpointText, type ProbeName } from './files.js';
import type { Answer, ProbeTransport } from './main.js';

/**
 * http commands are probed at their own /healthx routes, at the address the
 * descriptor records (loopback when the server binds a wildcard address).
 * The request is written by hand on a raw socket: loading node:http costs
 * ~10 ms, more than the exec probe's cold-start target (≤ 1.5× `node -e 0`)
 * leaves for the whole request.
 */
export const httpTransport: ProbeTransport = {
  async ask(descriptor: Descriptor, probe: ProbeName, timeoutMs: number): Promise<Answer> {
    const at = endpointOf(descriptor, 'http');
    if (typeof at === 'string') return { ok: false, detail: at };
    const response = await request(at, 'GET', `/healthx/${probe}`, timeoutMs);
    if (response.status === 200) return { ok: true };
    if (response.status === 503)
      return { ok: false, answered: true, detail: field(response.body, 'reason') ?? 'unhealthy (503)' };
    return {
      ok: false,
      detail: `unexpected answer ${response.status} from http://${endpointText(at)}/healthx/${probe}`,
    };
  },
};

interface Response {
  status: number;
  body: string;
}

function request(at: Endpoint, method: string, path: string, timeoutMs: number): Promise<Response> {
  const where = endpointText(at);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: at.port, host: at.host });
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${where} within ${timeoutMs} ms`)));
    socket.on('connect', () => {
      // write, not end: a half-closed socket makes Node's HTTP server abort a response that is not
      // ready within the same tick (any check that awaits I/O). `connection: close` ends it instead.
      socket.write(`${method} ${path} HTTP/1.1\r\nhost: ${where}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
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
      reject(new Error(error.code === 'ECONNREFUSED' ? `nothing listens on ${where}` : error.message)),
    );
    socket.on('end', () => {
      if (!settle(true)) reject(new Error(`not an HTTP answer from ${where}`));
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

/** A string field of a JSON body (the report's `reason`), if there is one. */
function field(body: string, key: 'reason'): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
