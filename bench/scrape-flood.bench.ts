/**
 * What a `/metrics` scrape flood costs the service, the sample's http
 * command, while 20 connections scrape its admin server's `/metrics` at 380/s
 * in all (the rate that cut /hello from 4,380 to 175 req/s when every scrape
 * rendered the registry). Two figures: the server CPU the flood takes by
 * itself, as a share of one core (the target: ≤ 5% with the defaults); and
 * requests/s of `GET /hello?name=x` alone and during the flood. On a
 * two-core machine the flood's client shares the load core with wrk, so the
 * second figure also counts the clients' contention: the first one is the
 * service's cost. The control renders for every scrape
 * (`dionysus.admin.minIntervalMs: 0`, only a render in progress is shared).
 *
 *   node dist/bench/run.js scrape-flood
 *   BENCH_ROUNDS=5 BENCH_SECONDS=10 BENCH_SCRAPE_RATE=1000 node dist/bench/run.js scrape-flood
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  type Bench,
  benchEnv,
  cpuPinning,
  formatTable,
  httpStatus,
  median,
  numberFromEnv,
  onCore,
  processCpuMs,
  REPO_ROOT,
  type ServerProcess,
  sleep,
  startServer,
  waitUntil,
} from './harness.js';
import { chooseLoadTool, type LoadTool } from './load.js';

const SCRAPERS = 20;

interface Subject {
  readonly name: string;
  readonly config?: string;
  readonly quiet: number[];
  readonly flooded: number[];
  readonly scrapes: number[];
  /** Server CPU taken by the flood alone, as a share of one core. */
  readonly floodCpu: number[];
}

/** 20 connections scraping `/metrics` at `rate` per second in all (autocannon, which can hold a rate); resolves with scrapes/s. */
function scrape(url: string, rate: number, seconds: number, core: number | undefined): Promise<number> {
  const cli = require.resolve('autocannon');
  const command = [process.execPath, cli, '-j', '-c', String(SCRAPERS), '-R', String(rate), '-d', String(seconds), url];
  const [file, ...args] = onCore(core, command);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { env: benchEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}`));
      const report = JSON.parse(out) as { requests: { total: number }; duration: number };
      resolve(report.requests.total / report.duration);
    });
  });
}

async function launch(
  subject: Subject,
  core: number | undefined,
): Promise<{ server: ServerProcess; http: number; admin: number }> {
  const server = startServer({
    name: `scrape-flood ${subject.name}`,
    command: [process.execPath, join(REPO_ROOT, 'dist/samples/app/main.js'), 'http'],
    env: { OTEL_SDK_DISABLED: 'true', ...(subject.config ? { NODE_CONFIG: subject.config } : {}) },
    core,
    output: 'discard',
  });
  try {
    const descriptor = await server.descriptor('http');
    const http = descriptor.http!.port;
    const admin = (await server.descriptor('admin')).admin!.port;
    await waitUntil('sample readiness', async () => (await httpStatus(http, '/healthx/readiness')) === 200);
    return { server, http, admin };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** The server's CPU during a flood with no other load, minus its idle CPU, as a share of one core. */
async function floodCpu(
  pid: number,
  url: string,
  rate: number,
  seconds: number,
  core: number | undefined,
): Promise<number> {
  const cpu = (): number => processCpuMs(pid) ?? Number.NaN;
  const idleStart = cpu();
  await sleep(seconds * 1000);
  const idle = cpu() - idleStart;
  const start = cpu();
  await scrape(url, rate, seconds, core);
  return (cpu() - start - idle) / (seconds * 1000);
}

async function rps(tool: LoadTool, url: string, seconds: number, core: number | undefined): Promise<number> {
  const load = await tool.run({ url }, seconds, 50, core);
  return load.requests / load.seconds;
}

const bench: Bench = {
  description:
    'requests/s of GET /hello alone and during a /metrics scrape flood, with and without the render interval',
  async run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 3);
    const seconds = numberFromEnv('BENCH_SECONDS', 5);
    const rate = numberFromEnv('BENCH_SCRAPE_RATE', 380);
    const { tool, how } = chooseLoadTool();
    const pin = cpuPinning();
    const subjects: Subject[] = [
      { name: 'defaults (minIntervalMs 1000)', quiet: [], flooded: [], scrapes: [], floodCpu: [] },
      {
        name: 'control: render per scrape (minIntervalMs 0)',
        config: JSON.stringify({ dionysus: { admin: { minIntervalMs: 0 } } }),
        quiet: [],
        flooded: [],
        scrapes: [],
        floodCpu: [],
      },
    ];
    for (const subject of subjects) {
      const running = await launch(subject, pin.server);
      try {
        const hello = `http://127.0.0.1:${running.http}/hello?name=x`;
        const metrics = `http://127.0.0.1:${running.admin}/metrics`;
        await rps(tool, hello, 1, pin.load); // warm-up
        for (let round = 0; round < rounds; round++) {
          subject.floodCpu.push(await floodCpu(running.server.pid, metrics, rate, seconds, pin.load));
          subject.quiet.push(await rps(tool, hello, seconds, pin.load));
          const [flooded, scrapes] = await Promise.all([
            rps(tool, hello, seconds, pin.load),
            scrape(metrics, rate, seconds, pin.load),
          ]);
          subject.flooded.push(flooded);
          subject.scrapes.push(scrapes);
        }
      } finally {
        await running.server.stop();
      }
    }
    const ratio = (s: Subject): number => median(s.flooded) / median(s.quiet);
    const rows = subjects.map((s) => [
      s.name,
      `${(median(s.floodCpu) * 100).toFixed(1)}%`,
      median(s.quiet).toFixed(0),
      median(s.flooded).toFixed(0),
      median(s.scrapes).toFixed(0),
      ratio(s).toFixed(2),
    ]);
    const [defaults] = subjects as [Subject, Subject];
    return {
      reports: [],
      notes: [
        ...formatTable(
          ['server', 'flood CPU (one core)', '/hello req/s alone', 'during the flood', 'scrapes/s', 'flooded / alone'],
          rows,
        ),
        `target: defaults, server CPU of the flood alone ≤ 5.0% of a core: measured ${(median(defaults.floodCpu) * 100).toFixed(1)}% ${median(defaults.floodCpu) <= 0.05 ? 'PASS' : 'MISS'}`,
        `no target: /hello during the flood ${ratio(defaults).toFixed(2)}× alone (the flood's client competes with wrk for the load core)`,
        `${how}; /hello over 50 connections, scrapes over ${SCRAPERS} at ${rate}/s (BENCH_SCRAPE_RATE) with autocannon`,
        `rounds: ${rounds} of ${seconds} s (BENCH_ROUNDS, BENCH_SECONDS); ${pin.how}`,
      ],
    };
  },
};

export default bench;
