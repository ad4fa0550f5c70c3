import { timingSafeEqual } from 'node:crypto';

/**
 * Who may flip a health switch over a serving port, and who sees the checks'
 * error messages: one rule for the http and grpc transports.
 *
 * A peer is trusted when it sends the control token as a bearer token. Being
 * on loopback proves nothing behind a sidecar proxy (every inbound connection
 * comes from loopback there), so loopback peers are trusted only when
 * `trustLoopback` is set, and then only 127.0.0.1 and ::1: a mesh forwards
 * from other 127/8 addresses (Istio uses 127.0.0.6). The same OS user needs
 * neither: `HEALTH_STATUS=close app readiness` uses the local control socket.
 */
export interface AccessOptions {
  readonly token: string;
  readonly trustLoopback: boolean;
}

export type Access = { readonly trusted: true } | { readonly trusted: false; readonly reason: string };

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** `peer`: the remote address alone (no port, no brackets); `authorization`: the header or metadata value. */
export function healthAccess(options: AccessOptions): (authorization: string, peer: string) => Access {
  const token = options.token || undefined;
  return (authorization, peer) => {
    if (token && bearerMatches(authorization, token)) return { trusted: true };
    if (options.trustLoopback && LOOPBACK.has(peer)) return { trusted: true };
    if (token) {
      return {
        trusted: false,
        reason: authorization
          ? 'the bearer token is not the control token'
          : 'a bearer token (the control token) is required to change health switches',
      };
    }
    return {
      trusted: false,
      reason:
        'health switches on this port need a control token: set DIONYSUS_CONTROL_TOKEN and send it as ' +
        '`authorization: Bearer <token>`; `HEALTH_STATUS=open|close <app> <probe>` on the same host needs none',
    };
  };
}

/**
 * Whether an `Authorization` value carries the token as a bearer token,
 * compared in constant time so it cannot be guessed byte by byte from
 * response times.
 */
export function bearerMatches(header: string, token: string): boolean {
  const match = /^Bearer (.+)$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1] as string);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
