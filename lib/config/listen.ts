import type { Server } from 'node:net';
import { DionysusError, messageOf } from '../errors.js';
import { ENV_OVERRIDES } from './load.js';

/** The servers the framework starts, by the settings section that holds their address. */
export type ListeningServer = 'http' | 'grpc' | 'admin';

const WHY: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (EADDRINUSE)',
  EACCES: 'permission denied (EACCES; ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the host is not an address of this machine (EADDRNOTAVAIL)',
};

/**
 * The error of a server that cannot listen, naming the address and the
 * settings that chose it: node's `listen EADDRINUSE: address already in use
 * 0.0.0.0:9464` says nothing of which of the app's ports that is.
 */
export function listenError(server: ListeningServer, host: string, port: number, cause: unknown): DionysusError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  // grpc-js reports the errno only inside its message.
  const errno = typeof code === 'string' ? code : /\b(E[A-Z]{4,})\b/.exec(messageOf(cause))?.[1];
  const why = (errno && WHY[errno]) ?? messageOf(cause);
  const variable = ENV_OVERRIDES.find(([, key]) => key === `${server}.port`)?.[0];
  return new DionysusError(
    'config',
    `${server} server cannot listen on ${host}:${port}: ${why}; its port is set by ${variable} or dionysus.${server}.port, its host by dionysus.${server}.host`,
    // No cause: the message says all of it, and a cause would be appended to it again.
    { expose: true },
  );
}

/** Listens on `host:port`; a failure is a `listenError` naming the settings. */
export function listen(server: Server, name: ListeningServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error): void => reject(listenError(name, host, port, error));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
