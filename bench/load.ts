/**
 * The HTTP load tools of the throughput benches: wrk (one thread) where it is
 * installed, else autocannon; both report requests, duration, failures and
 * latency percentiles the same way.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchEnv, onCore, tempDir } from './harness.js';

/** What every request of a load run sends. */
export interface LoadTarget {
  readonly url: string;
  /** @default 'GET' */
  readonly method?: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Load {
  readonly requests: number;
  readonly seconds: number;
  /** Failed requests: socket errors and timeouts, plus non-2xx answers. */
  readonly errors: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
}

export interface LoadTool {
  readonly name: string;
  run(target: LoadTarget, seconds: number, connections: number, core: number | undefined): Promise<Load>;
}

function runTool(command: readonly string[]): Promise<string> {
  const [file, ...args] = command;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { env: benchEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command.join(' ')} exited ${code}:\n${err}${out}`)),
    );
  });
}

/** wrk's durations: `812.00us`, `2.10ms`, `1.02s`. */
function wrkMs(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) return undefined;
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}

const wrk: LoadTool = {
  name: 'wrk',
  async run(target, seconds, connections, core) {
    const script = target.method ? wrkScript(target) : undefined;
    const out = await runTool(
      onCore(core, [
        'wrk',
        '-t1',
        `-c${connections}`,
        `-d${Math.max(1, Math.round(seconds))}s`,
        '--latency',
        ...(script ? ['-s', script] : []),
        target.url,
      ]),
    );
    const requests = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
    if (!requests) throw new Error(`unexpected wrk output:\n${out}`);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    return {
      requests: Number(requests[1]),
      seconds: wrkMs(`${requests[2]}${requests[3]}`)! / 1000,
      errors: non2xx + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
      p50Ms: wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
      p99Ms: wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    };
  },
};

const autocannon: LoadTool = {
  name: 'autocannon',
  async run(target, seconds, connections, core) {
    const cli = require.resolve('autocannon');
    const request = [
      ...(target.method ? ['-m', target.method] : []),
      ...(target.body === undefined ? [] : ['-b', target.body]),
      ...Object.entries(target.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}=${value}`]),
    ];
    const command = [
      process.execPath,
      cli,
      '-j',
      '-c',
      String(connections),
      '-d',
      String(Math.max(1, seconds)),
      ...request,
      target.url,
    ];
    const report = JSON.parse(await runTool(onCore(core, command))) as {
      requests: { total: number };
      latency: { p50: number; p99: number };
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
    };
    return {
      requests: report.requests.total,
      seconds: report.duration,
      errors: report.errors + report.timeouts + report.non2xx,
      p50Ms: report.latency.p50,
      p99Ms: report.latency.p99,
    };
  },
};

export function chooseLoadTool(): { tool: LoadTool; how: string } {
  const wanted = process.env.BENCH_LOAD;
  if (wanted && wanted !== 'wrk' && wanted !== 'autocannon') throw new Error(`BENCH_LOAD=${wanted}: wrk or autocannon`);
  const hasWrk = wanted !== 'autocannon' && !spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error;
  if (wanted === 'wrk' && !hasWrk) throw new Error('BENCH_LOAD=wrk but wrk is not installed');
  return hasWrk
    ? { tool: wrk, how: 'load: wrk, 1 thread' }
    : {
        tool: autocannon,
        how: `load: autocannon (${wanted ? 'BENCH_LOAD=autocannon' : 'wrk not found: Debian/Ubuntu `apt-get install -y wrk`'}; figures differ from wrk runs)`,
      };
}

/** A wrk script that sends the target's method, headers and body on every request. */
function wrkScript(target: LoadTarget): string {
  const lua = (text: string): string => JSON.stringify(text);
  const lines = [
    `wrk.method = ${lua(target.method ?? 'GET')}`,
    ...(target.body === undefined ? [] : [`wrk.body = ${lua(target.body)}`]),
    ...Object.entries(target.headers ?? {}).map(([name, value]) => `wrk.headers[${lua(name)}] = ${lua(value)}`),
  ];
  const file = join(tempDir('wrk'), 'request.lua');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
