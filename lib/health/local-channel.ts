import { lstatSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { askLocal } from '../probe/local.js';
import { type Health, PROBES, type Probe } from './health.js';

/** Requests are one short JSON line; a peer sending more is not the probe. */
const MAX_REQUEST_BYTES = 1024;
const IDLE_MS = 5_000;
// sun_path holds 108 bytes on Linux (104 elsewhere), the last one a NUL; node truncates longer paths silently.
const MAX_SOCKET_PATH = process.platform === 'linux' ? 107 : 103;

/**
 * The server side of the local control channel (see ../probe/local.ts): a
 * unix socket in the runtime directory answering reports and switch changes
 * for the same OS user, without a token. Listening on it also claims the
 * command's runtime files: a second instance finds the socket answering and
 * refuses to start, so it never overwrites or removes the files of a live one.
 */
export class LocalChannel {
  readonly path: string;
  readonly #server: Server;

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /**
   * Listens at `path`. A socket left by a process that died is replaced; one
   * that answers belongs to a live instance: then this throws naming its pid.
   */
  static async open(path: string, health: Health): Promise<LocalChannel> {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new Error(
        `the control socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes (a unix socket limit); ` +
          'set DIONYSUS_RUNTIME_DIR to a shorter directory',
      );
    }
    const server = createServer((socket) => serve(socket, health));
    try {
      await listen(server, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw new Error(`cannot listen on ${path}: ${(error as Error).message}`);
      }
      await replaceStale(path);
      await listen(server, path);
    }
    return new LocalChannel(path, server);
  }

  /** Stops listening and removes the socket; harmless twice. */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

/** Thrown when another process answers on the socket. */
export class AlreadyRunning extends Error {
  readonly pid: unknown;
  constructor(path: string, pid: unknown) {
    super(`process ${String(pid)} answers on ${path}`);
    this.pid = pid;
  }
}

async function replaceStale(path: string): Promise<void> {
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket; remove it`);
  let owner: Record<string, unknown> | undefined;
  try {
    owner = await askLocal(path, {}, 1_000);
  } catch (error) {
    // Refused: its process is gone. Anything else (a process that accepts but never answers) is alive.
    if (!/^nothing listens on /.test((error as Error).message)) throw new AlreadyRunning(path, 'unknown');
  }
  if (owner) throw new AlreadyRunning(path, owner.pid);
  rmSync(path, { force: true });
}

function serve(socket: Socket, health: Health): void {
  let text = '';
  socket.setEncoding('utf8');
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    text += chunk;
    const end = text.indexOf('\n');
    if (end < 0) {
      if (text.length > MAX_REQUEST_BYTES) socket.destroy();
      return;
    }
    socket.removeAllListeners('data');
    void answer(text.slice(0, end), health).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
  });
}

async function answer(line: string, health: Health): Promise<Record<string, unknown>> {
  const pid = process.pid;
  let request: { probe?: unknown; open?: unknown };
  try {
    request = JSON.parse(line) as typeof request;
    if (typeof request !== 'object' || request === null) throw new Error('not an object');
  } catch {
    return { pid, error: 'a request is one JSON object on one line' };
  }
  if (request.probe === undefined) return { pid };
  if (!PROBES.includes(request.probe as Probe)) {
    return { pid, error: `probe must be startup, liveness or readiness, got ${JSON.stringify(request.probe)}` };
  }
  const probe = request.probe as Probe;
  if (request.open === undefined) return { pid, report: await health.report(probe) };
  if (typeof request.open !== 'boolean') return { pid, error: 'open must be true or false' };
  health.setSwitch(probe, request.open);
  return { pid, probe, switch: health.switchOf(probe) };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
