import { get } from 'node:http';
import { join } from 'node:path';
import {
  type Bench,
  cpuPinning,
  formatTable,
  httpStatus,
  median,
  numberFromEnv,
  processCpuMs,
  REPO_ROOT,
  type ServerProcess,
  sleep,
  startServer,
  targetLine,
  waitUntil,
} from './harness.js';
import { chooseLoadTool, type Load, type LoadTool } from './load.js';

const PATH = '/hello?name=x';
const EXPECTED = JSON.stringify({ message: 'hello x' });

function body(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: PATH, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

/** A server to measure: how to start it, and its rounds across passes. */
interface Subject {
  readonly name: string;
  readonly command: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly dionysus: boolean;
  readonly rounds: Round[];
}

interface Round {
  readonly rps: number;
  readonly load: Load;
  readonly cpuUsPerRequest?: number;
}

interface Running {
  readonly server: ServerProcess;
  readonly port: number;
}

interface Settings {
  readonly tool: LoadTool;
  readonly seconds: number;
  readonly warmup: number;
  readonly connections: number;
  readonly pin: ReturnType<typeof cpuPinning>;
}

/** Starts a subject and waits until it answers `GET /hello` as the sample does (and is ready, for dionysus). */
async function launch(subject: Subject, pin: Settings['pin']): Promise<Running> {
  const server = startServer({
    name: subject.name,
    command: subject.command,
    env: subject.env,
    core: pin.server,
    output: 'discard',
  });
  try {
    const port = (await server.descriptor('http')).http!.port!;
    if (subject.dionysus)
      await waitUntil('sample readiness', async () => (await httpStatus(port, '/healthx/readiness')) === 200);
    const answer = await body(port);
    if (answer !== EXPECTED) throw new Error(`${subject.name} answered ${answer}, expected ${EXPECTED}`);
    return { server, port };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** One measured round (after a warm-up), with the server's CPU per request. */
async function measure(running: Running, settings: Settings): Promise<Round> {
  const url = `http://127.0.0.1:${running.port}${PATH}`;
  await settings.tool.run({ url }, settings.warmup, settings.connections, settings.pin.load);
  const before = processCpuMs(running.server.pid);
  const load = await settings.tool.run({ url }, settings.seconds, settings.connections, settings.pin.load);
  const after = processCpuMs(running.server.pid);
  return {
    rps: load.requests / load.seconds,
    load,
    cpuUsPerRequest:
      before === undefined || after === undefined ? undefined : ((after - before) * 1000) / load.requests,
  };
}

/** What the framework adds per request in server CPU, next to what the 0.85× target leaves for it. */
function cpuBudget(sample: Subject, koa: Subject): string[] {
  const of = (subject: Subject): number | undefined => {
    const values = subject.rounds.map((r) => r.cpuUsPerRequest).filter((v): v is number => v !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  const [mine, base] = [of(sample), of(koa)];
  if (mine === undefined || base === undefined) return [];
  return [
    `server CPU: the sample adds ${(mine - base).toFixed(1)} µs per request to koa + router's ${base.toFixed(1)} µs (request id, error mapping, access log, metrics, /healthx, body parser); 0.85× leaves ${(base / 0.85 - base).toFixed(1)} µs`,
  ];
}

/**
 * V8 starts its memory reducer once a heap has allocated little for ~8 s:
 * it shrinks the heap, and a bigger heap serves requests slower afterwards.
 * Measured apart from the target, with a control that has the framework's
 * packages in its heap and none of its code on the request path.
 */
const IDLE_MS = 12_000;

const bench: Bench = {
  description: 'requests/s of GET /hello: the sample with all defaults vs bare koa + @koa/router and bare node:http',
  async run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 3);
    const passes = numberFromEnv('BENCH_PASSES', 2);
    const { tool, how } = chooseLoadTool();
    const settings: Settings = {
      tool,
      seconds: numberFromEnv('BENCH_SECONDS', 5),
      warmup: numberFromEnv('BENCH_WARMUP_SECONDS', 1),
      connections: numberFromEnv('BENCH_CONNECTIONS', 50),
      pin: cpuPinning(),
    };
    // What-if runs, e.g. BENCH_SAMPLE_CONFIG='{"dionysus":{"http":{"accessLogSampleRate":0}}}'.
    const sampleConfig = process.env.BENCH_SAMPLE_CONFIG;
    const sampleName = sampleConfig ? `sample (${sampleConfig})` : 'sample (defaults)';
    const bare = (kind: string): readonly string[] => [process.execPath, join(__dirname, 'bare-servers.js'), kind];
    const subject = (name: string, command: readonly string[], env?: NodeJS.ProcessEnv): Subject => ({
      name,
      command,
      env,
      dionysus: env !== undefined,
      rounds: [],
    });
    const nodeHttp = subject('node:http', bare('node-http'));
    const koa = subject('koa + router', bare('koa-router'));
    // Every default on; tracing off whatever this shell's OTEL_* say.
    const sample = subject(sampleName, [process.execPath, join(REPO_ROOT, 'dist/samples/app/main.js'), 'http'], {
      OTEL_SDK_DISABLED: 'true',
      ...(sampleConfig ? { NODE_CONFIG: sampleConfig } : {}),
    });
    const subjects = [nodeHttp, koa, sample];

    // Each server serves its rounds back to back right after it starts, so none idles long enough for V8's
    // memory reducer (see IDLE_MS); passes rotate the order, against drift of the machine.
    const perPass: number[] = [];
    for (let pass = 0; pass < passes; pass++) {
      const order = subjects.map((_, i) => subjects[(i + pass) % subjects.length]!);
      const before = sample.rounds.length;
      const koaBefore = koa.rounds.length;
      for (const s of order) {
        const running = await launch(s, settings.pin);
        try {
          for (let round = 0; round < rounds; round++) s.rounds.push(await measure(running, settings));
        } finally {
          await running.server.stop();
        }
      }
      perPass.push(
        median(sample.rounds.slice(before).map((r) => r.rps)) / median(koa.rounds.slice(koaBefore).map((r) => r.rps)),
      );
    }

    // After an idle period: started together, left alone past the memory reducer's delay, measured once each.
    const idleSubjects = [
      subject('koa + router', bare('koa-router')),
      subject('koa + router, framework packages loaded', bare('koa-router-loaded')),
      subject(sampleName, sample.command, sample.env),
    ];
    if (process.env.BENCH_IDLE !== 'off') {
      const running = await Promise.all(idleSubjects.map((s) => launch(s, settings.pin)));
      try {
        await sleep(IDLE_MS);
        for (const [i, s] of idleSubjects.entries()) s.rounds.push(await measure(running[i]!, settings));
      } finally {
        await Promise.all(running.map((r) => r.server.stop()));
      }
    }

    const rps = (s: Subject): number => median(s.rounds.map((r) => r.rps));
    const optional = (values: (number | undefined)[], digits: number): string => {
      const present = values.filter((v): v is number => v !== undefined);
      return present.length === 0 ? '-' : median(present).toFixed(digits);
    };
    const rows = subjects.map((s) => [
      s.name,
      rps(s).toFixed(0),
      (rps(s) / rps(nodeHttp)).toFixed(2),
      (rps(s) / rps(koa)).toFixed(2),
      optional(
        s.rounds.map((r) => r.load.p50Ms),
        2,
      ),
      optional(
        s.rounds.map((r) => r.load.p99Ms),
        2,
      ),
      optional(
        s.rounds.map((r) => r.cpuUsPerRequest),
        1,
      ),
      String(s.rounds.reduce((sum, r) => sum + r.load.errors, 0)),
    ]);
    const idleBase = idleSubjects[0]!;
    const idleNotes =
      idleBase.rounds.length === 0
        ? ['after idle: not measured (BENCH_IDLE=off)']
        : [
            `after ${IDLE_MS / 1000} s idle (V8's memory reducer has run; one round each; not the target, see below):`,
            ...formatTable(
              ['', 'req/s', '× koa+router'],
              idleSubjects.map((s) => [s.name, rps(s).toFixed(0), (rps(s) / rps(idleBase)).toFixed(2)]),
            ).map((line) => `  ${line}`),
          ];
    const notes = [
      `http throughput: GET ${PATH}, ${settings.connections} connections; ${passes} passes, each server started fresh and measured ${rounds} rounds × ${settings.seconds} s back to back (each after a ${settings.warmup} s warm-up), order rotated per pass; medians of all rounds`,
      '',
      ...formatTable(
        ['', 'req/s', '× node:http', '× koa+router', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'failed'],
        rows,
      ).map((line) => `  ${line}`),
      '',
      targetLine(`${sampleName} req/s`, 'koa + router (medians)', rps(sample) / rps(koa), 0.85, 'min'),
      `sample / koa + router per pass: ${perPass.map((r) => r.toFixed(2)).join(', ')}`,
      ...cpuBudget(sample, koa),
      '',
      ...idleNotes,
      '',
      how,
      settings.pin.how,
      'sample: access log line per request to /dev/null, metrics on (admin server on an ephemeral port), tracing off (OTEL_SDK_DISABLED=true)',
      'bare servers: bench/bare-servers.ts (same handler and JSON body, nothing else)',
    ];
    return { reports: [], notes };
  },
};

export default bench;
