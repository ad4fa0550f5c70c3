/**
 * Profiles on demand, on the admin server (what Go's pprof and Spring's
 * /actuator/heapdump give), through node's inspector:
 *
 *   GET /debug/profile?seconds=N   a CPU profile (.cpuprofile, opens in Chrome DevTools)
 *   GET /debug/heapsnapshot        a heap snapshot (.heapsnapshot)
 *   GET /debug/runtime?seconds=N   event-loop delay and utilisation, active handles, memory (JSON)
 *
 * Each changes what the process does (a profiler slows it, a heap snapshot
 * stops its event loop while it is taken), so each needs the control token
 * as a bearer token, and none is served without one configured. One at a
 * time, within duration and size limits, logged, and refused once the
 * process is stopping.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from 'node:inspector';
import { bearerMatches } from '../health/access.js';

export interface ProfileSettings {
  /** `DIONYSUS_CONTROL_TOKEN`; empty: no profile is served. */
  readonly controlToken: string;
  /** The longest CPU profile or runtime sample a request may ask for. */
  readonly maxSeconds: number;
  /** A heap snapshot is refused while the used heap is larger than this. */
  readonly maxHeapBytes: number;
}

export interface ProfileOptions extends ProfileSettings {
  /** The app's name, for the downloaded file's name. */
  readonly app: string;
  /** True once the process is stopping: profiles are refused from then on. */
  readonly stopping: () => boolean;
  readonly log: (level: 'info' | 'warn', fields: Record<string, unknown>, message: string) => void;
}

export const PROFILE_PATHS = ['/debug/profile', '/debug/heapsnapshot', '/debug/runtime'] as const;
type ProfilePath = (typeof PROFILE_PATHS)[number];

const KIND: Record<ProfilePath, string> = {
  '/debug/profile': 'cpu profile',
  '/debug/heapsnapshot': 'heap snapshot',
  '/debug/runtime': 'runtime report',
};

export function isProfilePath(path: string): path is ProfilePath {
  return (PROFILE_PATHS as readonly string[]).includes(path);
}

/** Serves the profile routes; one profile runs at a time. */
export class Profiles {
  readonly #o: ProfileOptions;
  #running: { kind: string; since: number } | undefined;
  /** Ends the profile in progress early (the server is closing). */
  #cancel: AbortController | undefined;

  constructor(options: ProfileOptions) {
    this.#o = options;
  }

  /** Stops a profile in progress; its request gets what was gathered, or its connection is closed. */
  cancel(): void {
    this.#cancel?.abort();
  }

  async handle(path: ProfilePath, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const kind = KIND[path];
    if (req.method !== 'GET') return text(res, 405, 'method not allowed: use GET', { allow: 'GET' });
    if (!this.#o.controlToken) {
      return text(
        res,
        403,
        'profiles are off: set DIONYSUS_CONTROL_TOKEN and send it as `authorization: Bearer <token>`',
      );
    }
    if (!bearerMatches(req.headers.authorization ?? '', this.#o.controlToken)) {
      return text(res, 401, 'a bearer token (the control token) is required for profiles', {
        'www-authenticate': 'Bearer',
      });
    }
    if (this.#o.stopping()) return text(res, 503, 'the process is stopping: no new profile');
    const seconds = path === '/debug/heapsnapshot' ? 0 : this.#seconds(url, path === '/debug/profile' ? 10 : 1);
    if (typeof seconds === 'string') return text(res, 400, seconds);
    if (this.#running) {
      const age = ((performance.now() - this.#running.since) / 1000).toFixed(1);
      return text(res, 409, `a ${this.#running.kind} is already being taken (for ${age} s); try again after it`);
    }
    if (path === '/debug/heapsnapshot') {
      const used = (require('node:v8') as typeof import('node:v8')).getHeapStatistics().used_heap_size;
      if (used > this.#o.maxHeapBytes) {
        return text(
          res,
          413,
          `the used heap (${used} bytes) is larger than dionysus.admin.profiles.maxHeapBytes (${this.#o.maxHeapBytes}): no snapshot`,
        );
      }
    }
    const since = performance.now();
    this.#running = { kind, since };
    this.#cancel = new AbortController();
    const peer = req.socket.remoteAddress;
    this.#o.log('info', { profile: { kind, seconds, peer } }, `${kind} started`);
    let bytes = 0;
    try {
      if (path === '/debug/heapsnapshot') bytes = await this.#heapSnapshot(res);
      else {
        const body =
          path === '/debug/profile'
            ? await this.#cpuProfile(seconds, this.#cancel.signal)
            : JSON.stringify(await runtimeReport(seconds, this.#cancel.signal));
        bytes = Buffer.byteLength(body);
        const extension = path === '/debug/profile' ? 'cpuprofile' : 'json';
        res
          .writeHead(200, {
            'content-type': 'application/json',
            'content-disposition': `attachment; filename="${this.#fileName(extension)}"`,
          })
          .end(body);
      }
      const durationMs = Math.round(performance.now() - since);
      this.#o.log('info', { profile: { kind, seconds, peer, bytes, durationMs } }, `${kind} taken`);
    } catch (error) {
      this.#o.log('warn', { profile: { kind, peer }, err: error }, `${kind} failed`);
      if (!res.headersSent) text(res, 500, `the ${kind} failed`);
      else res.destroy();
    } finally {
      this.#running = undefined;
      this.#cancel = undefined;
    }
  }

  #seconds(url: URL, fallback: number): number | string {
    const raw = url.searchParams.get('seconds');
    if (raw === null) return Math.min(fallback, this.#o.maxSeconds);
    const seconds = Number(raw);
    if (!/^\d+$/.test(raw) || seconds < 1 || seconds > this.#o.maxSeconds) {
      return `seconds must be a whole number from 1 to ${this.#o.maxSeconds} (dionysus.admin.profiles.maxSeconds), got ${JSON.stringify(raw)}`;
    }
    return seconds;
  }

  #fileName(extension: string): string {
    const at = new Date().toISOString().replace(/[:.]/g, '-');
    return `${this.#o.app}-${process.pid}-${at}.${extension}`;
  }

  async #cpuProfile(seconds: number, cancel: AbortSignal): Promise<string> {
    return withSession(async (post) => {
      await post('Profiler.enable');
      await post('Profiler.start');
      await wait(seconds * 1000, cancel);
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      return JSON.stringify(profile);
    });
  }

  /** Streams the snapshot as the inspector produces it; a snapshot stops the event loop while it is taken. */
  async #heapSnapshot(res: ServerResponse): Promise<number> {
    return withSession(async (post, session) => {
      let bytes = 0;
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-disposition': `attachment; filename="${this.#fileName('heapsnapshot')}"`,
      });
      session.on('HeapProfiler.addHeapSnapshotChunk', (message) => {
        const chunk = (message.params as { chunk: string }).chunk;
        bytes += Buffer.byteLength(chunk);
        res.write(chunk);
      });
      await post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      await new Promise<void>((resolve) => res.end(resolve));
      return bytes;
    });
  }
}

type Post = (method: string, params?: object) => Promise<unknown>;

async function withSession<T>(work: (post: Post, session: Session) => Promise<T>): Promise<T> {
  const { Session } = require('node:inspector') as typeof import('node:inspector');
  const session = new Session();
  session.connect();
  const post: Post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
    );
  try {
    return await work(post, session);
  } finally {
    session.disconnect();
  }
}

function wait(ms: number, cancel: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    cancel.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export interface RuntimeReport {
  readonly seconds: number;
  /** Event-loop delay over the window, milliseconds: how late a 10 ms timer tick fired. */
  readonly eventLoopDelayMs: { min: number; mean: number; p50: number; p99: number; max: number };
  /** Share of the window the event loop was busy, 0 to 1. */
  readonly eventLoopUtilization: number;
  /** What keeps the process alive, by kind (TCPSocketWrap, Timeout, FSReqCallback…). */
  readonly activeResources: Record<string, number>;
  readonly memory: NodeJS.MemoryUsage;
  readonly uptimeSeconds: number;
}

async function runtimeReport(seconds: number, cancel: AbortSignal): Promise<RuntimeReport> {
  const { monitorEventLoopDelay, performance: perf } = require('node:perf_hooks') as typeof import('node:perf_hooks');
  const resolutionMs = 10;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  const before = perf.eventLoopUtilization();
  histogram.enable();
  await wait(seconds * 1000, cancel);
  histogram.disable();
  const utilization = perf.eventLoopUtilization(before).utilization;
  // The histogram holds whole sampling intervals: the delay is what a tick took beyond its interval.
  const ms = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - resolutionMs) * 100) / 100);
  const activeResources: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) activeResources[name] = (activeResources[name] ?? 0) + 1;
  return {
    seconds,
    eventLoopDelayMs: {
      min: ms(histogram.min),
      mean: ms(histogram.mean),
      p50: ms(histogram.percentile(50)),
      p99: ms(histogram.percentile(99)),
      max: ms(histogram.max),
    },
    eventLoopUtilization: Math.round(utilization * 1000) / 1000,
    activeResources,
    memory: process.memoryUsage(),
    uptimeSeconds: Math.round(process.uptime()),
  };
}

function text(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${message}\n`);
}
