import { timingSafeEqual } from 'node:crypto';

/**
 * Whether an `Authorization` value carries the control token as a bearer
 * token, compared in constant time so it cannot be guessed byte by byte from
 * response times. Used by the http and grpc switch endpoints alike.
 */
export function bearerMatches(header: string, token: string): boolean {
  const match = /^Bearer (.+)$/i.exec(header);
  if (!match) return false;
  const given = Buffer.from(match[1] as string);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
