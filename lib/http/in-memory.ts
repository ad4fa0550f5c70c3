/**
 * Bound by the testing helpers' in-memory server: the app is served to
 * requests dispatched into `Koa#callback()`, with no socket. Its own module,
 * so the composition root can ask without loading koa.
 */
export const IN_MEMORY = Symbol.for('dionysus.http.in-memory');
