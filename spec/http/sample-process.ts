import { mkdtempSync, rmSync } from 'node:fs';
import { type Agent, type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV_OVERRIDES } from '../../lib/config/load.js';
import { type Child, node, SAMPLE } from '../integration/child.js';
import { logRecords } from './logs.js';

/**
 * The compiled sample's `http` command as a real child process on ephemeral
 * ports, in its own runtime dir, and a small node:http client for it. Use
 * `killChildren` (../integration/child.ts) and `removeRuntimeDirs` in afterEach.
 */

/** Variables of the developer's shell that would change what the child does. */
const CLEAN: Record<string, undefined> = Object.fromEntries(
  [
    ...ENV_OVERRIDES.map(([name]) => name),
    'HEALTH_STATUS',
    'NODE_CONFIG',
    'NODE_CONFIG_DIR',
    'NODE_ENV',
    'KUBERNETES_SERVICE_HOST',
    'SAMPLE_DEPENDENCY_DOWN',
    'DATABASE_URL',
    'REDIS_URL',
    'SAMPLE_DEPENDENCY_LATENCY_MS',
    ...Object.keys(process.env).filter((name) => name.startsWith('OTEL_')),
  ].map((name) => [name, undefined]),
);

const dirs: string[] = [];

export function removeRuntimeDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface RunningSample {
  readonly child: Child;
  /** The http port, read from the "listening" log line. */
  readonly port: number;
  readonly dir: string;
  /** Its working directory, where the todos' default SQLite file lives (data/main.sqlite). */
  readonly cwd: string;
}

export interface SampleOptions {
  /** The `dionysus` section of NODE_CONFIG. */
  readonly dionysus?: object;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The working directory; by default a new one of its own, so no two samples share a SQLite file. */
  readonly cwd?: string;
}

/** Starts `app http` and resolves once it serves: its "http server listening" log line names the port. */
export async function startSample(options: SampleOptions = {}): Promise<RunningSample> {
  const dir = mkdtempSync(join(tmpdir(), 'http-spec-'));
  dirs.push(dir);
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), 'http-spec-cwd-'));
  if (!options.cwd) dirs.push(cwd);
  const child = node(SAMPLE, ['http'], {
    cwd,
    env: {
      ...CLEAN,
      HTTP_PORT: '0',
      ADMIN_PORT: '0',
      DIONYSUS_RUNTIME_DIR: dir,
      ...(options.dionysus ? { NODE_CONFIG: JSON.stringify({ dionysus: options.dionysus }) } : {}),
      ...options.env,
    },
  });
  const port = (): number | undefined => {
    const complete = child.stdout.slice(0, child.stdout.lastIndexOf('\n') + 1);
    const line = logRecords(complete).find((r) => typeof (r.http as { port?: unknown })?.port === 'number');
    return (line?.http as { port: number } | undefined)?.port;
  };
  await child.waitFor(() => port() !== undefined, 'the http server listening line');
  return { child, port: port() as number, dir, cwd };
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface SendOptions {
  readonly method?: string;
  /** A keep-alive Agent to reuse connections; by default every request has its own connection. */
  readonly agent?: Agent;
  readonly headers?: Record<string, string>;
  /** Resolves once the request is written, for requests that must be in flight before something happens. */
  readonly onSent?: () => void;
}

/** One request on 127.0.0.1; rejects with the socket error (its `code`, e.g. ECONNREFUSED). */
export function send(port: number, path: string, options: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: options.agent ?? false,
        headers: options.headers,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.onSent) req.on('finish', options.onSent);
    req.end();
  });
}

/** The status of an answer, or the code of the error the request failed with (e.g. ECONNREFUSED). */
export async function outcome(answer: Promise<Answer>): Promise<number | string> {
  try {
    return (await answer).status;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ProbeRun {
  readonly code: number | null;
  /** The one line the probe printed, without its newline. */
  readonly line: string;
  readonly stderr: string;
}

/** Runs `app <probe>` as its own process against the runtime dir of a running sample. */
export async function probe(
  dir: string,
  name: 'startup' | 'liveness' | 'readiness',
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<ProbeRun> {
  const exit = await node(SAMPLE, [name], { env: { ...CLEAN, DIONYSUS_RUNTIME_DIR: dir, ...env } }).waitForExit(5_000);
  return { code: exit.code, line: exit.stdout.replace(/\n$/, ''), stderr: exit.stderr };
}
