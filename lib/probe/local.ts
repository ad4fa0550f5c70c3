import { connect } from 'node:net';
import type { ProbeName } from './files.js';

/**
 * The local control channel of a running command: a unix socket in its
 * runtime directory. The directory is 0700, so only the same OS user reaches
 * it; a request needs no token. One JSON line each way:
 *
 *   {}                                  → {"pid"}
 *   {"probe":"readiness"}               → {"pid","report":{…}}   the full report, error messages included
 *   {"probe":"readiness","open":false}  → {"pid","probe","switch":"closed"}
 */
export interface LocalRequest {
  readonly probe?: ProbeName;
  readonly open?: boolean;
}

/** Longest answer accepted; a report is a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Sends one request to the socket at `path` and resolves with the parsed answer. */
export function askLocal(path: string, request: LocalRequest, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    let text = '';
    const fail = (message: string): void => {
      socket.destroy();
      reject(new Error(message));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer on ${path} within ${timeoutMs} ms`));
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_ANSWER_BYTES) return fail(`the answer on ${path} is too long`);
      const end = text.indexOf('\n');
      if (end < 0) return;
      socket.destroy();
      try {
        const value: unknown = JSON.parse(text.slice(0, end));
        if (typeof value !== 'object' || value === null) throw new Error('not an object');
        resolve(value as Record<string, unknown>);
      } catch {
        reject(new Error(`not a control answer on ${path}`));
      }
    });
    socket.on('end', () => fail(`${path} closed the connection without an answer`));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') fail(`no control socket ${path}`);
      else if (error.code === 'ECONNREFUSED') fail(`nothing listens on ${path}`);
      else fail(`cannot reach ${path} (${error.code ?? error.message})`);
    });
  });
}
