import { connect } from 'node:http2';
import { REASON_TRAILER } from '../grpc/reason.js';
import { type Descriptor, type Endpoint, endpointOf, endpointText, type ProbeName } from './files.js';
import type { Answer, ProbeTransport } from './main.js';

/**
 * grpc commands are probed with the standard grpc.health.v1.Health/Check at
 * the address the descriptor records (loopback for a wildcard address). The unary call and its two tiny protobuf messages are written by
 * hand over node:http2: loading @grpc/grpc-js costs ~65 ms against ~30 ms for
 * a bare node start, which the exec probe's cold-start target (≤ 2.0×
 * `node -e 0`) cannot afford.
 */
export const grpcTransport: ProbeTransport = {
  async ask(descriptor: Descriptor, probe: ProbeName, timeoutMs: number): Promise<Answer> {
    const at = endpointOf(descriptor, 'grpc');
    if (typeof at === 'string') return { ok: false, detail: at };
    const reply = await unary(at, '/grpc.health.v1.Health/Check', stringField(1, probe), timeoutMs);
    if (reply.status !== 0)
      return { ok: false, detail: `Health/Check answered ${codeName(reply.status)}: ${reply.message}` };
    const serving = varintField(reply.body, 1) ?? 0;
    if (serving === 1) return { ok: true };
    // The server's reason, as /healthx and the heartbeat word it; a server that sends none gets the status.
    return {
      ok: false,
      answered: true,
      detail: reply.reason ?? `${probe} is ${SERVING[serving] ?? `status ${serving}`}`,
    };
  },
};

const SERVING = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

function codeName(code: number): string {
  return CODES[code] ?? `code ${code}`;
}

interface Reply {
  status: number;
  message: string;
  body: Buffer;
  /** From the trailing metadata REASON_TRAILER, when the server sent one. */
  reason: string | undefined;
}

function unary(at: Endpoint, path: string, message: Buffer, timeoutMs: number): Promise<Reply> {
  const where = endpointText(at);
  return new Promise((resolve, reject) => {
    const session = connect(`http://${where}`);
    const fail = (error: Error & { code?: string }): void => {
      session.destroy();
      // The pending stream fails first, with the refused connect as its cause.
      const cause = error.cause as { code?: unknown } | undefined;
      const refused = error.code === 'ECONNREFUSED' || cause?.code === 'ECONNREFUSED';
      reject(new Error(refused ? `nothing listens on ${where}` : error.message));
    };
    session.on('error', fail);
    session.setTimeout(timeoutMs, () => fail(new Error(`no answer from ${where} within ${timeoutMs} ms`)));
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${timeoutMs}m`,
    });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let text = '';
    let reason: string | undefined;
    const readStatus = (headers: Record<string, unknown>): void => {
      if (headers['grpc-status'] !== undefined) {
        status = Number(headers['grpc-status']);
        text = decodeURIComponent(String(headers['grpc-message'] ?? ''));
      }
      const sent = headers[REASON_TRAILER];
      if (typeof sent === 'string' && sent !== '') reason = Buffer.from(sent, 'base64').toString('utf8');
    };
    stream.on('response', readStatus); // trailers-only answers carry the status here
    stream.on('trailers', readStatus);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', fail);
    stream.on('end', () => {
      session.close();
      const data = Buffer.concat(chunks);
      const length = data.length >= 5 ? data.readUInt32BE(1) : 0;
      resolve({ status: status ?? 2, message: text, body: data.subarray(5, 5 + length), reason });
    });
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    stream.end(frame);
  });
}

/** A length-delimited protobuf field (strings here are short: one-byte lengths suffice but varints are written anyway). */
function stringField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([(field << 3) | 2]), varint(bytes.length), bytes]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

/** Reads a varint field from a message; other fields are skipped. */
function varintField(body: Buffer, field: number): number | undefined {
  let i = 0;
  const read = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = body[i++] ?? 0;
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80 || i >= body.length) return result;
      shift += 7;
    }
  };
  while (i < body.length) {
    const key = read();
    const type = key & 7;
    if (type === 0) {
      const value = read();
      if (key >>> 3 === field) return value;
    } else if (type === 2) {
      i += read();
    } else {
      return undefined;
    }
  }
  return undefined;
}
