/**
 * Requests/s of `POST /orders/42` with a JSON body, validated: a dionysus
 * route with `@Param('id', zod)` and `@Body(zod)` (every default on: access
 * log to /dev/null, metrics, tracing off) against bare koa + @koa/router +
 * @koa/bodyparser validating the same values by hand with the same zod
 * schemas (bench/bare-servers.ts koa-router-validated). Same load tool, same
 * connections, server on one core and load on another; each server started
 * fresh per pass, order rotated; medians of the rounds.
 * Target (issue 15): ≥ 0.9× the bare server.
 *
 *   node dist/bench/run.js validation
 *   BENCH_PASSES=3 BENCH_ROUNDS=5 BENCH_SECONDS=10 node dist/bench/run.js validation
 */
import { request } from 'node:http';
import { join } from 'node:path';
import {
  type Bench,
  cpuPinning,
  formatTable,
  httpStatus,
  median,
  numberFromEnv,
  processCpuMs,
  type ServerProcess,
  startServer,
  targetLine,
  waitUntil,
} from './harness.js';
import { chooseLoadTool, type LoadTarget } from './load.js';
import { ORDER_BODY, ORDER_PATH, orderReply } from './validated-route.js';

const EXPECTED = JSON.stringify(orderReply(42, JSON.parse(ORDER_BODY)));

interface Subject {
  readonly name: string;
  readonly command: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly dionysus: boolean;
  readonly rps: number[];
  readonly cpuUs: number[];
}

function post(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: ORDER_PATH, method: 'POST', headers: { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    req.end(ORDER_BODY);
  });
}

const bench: Bench = {
  description: 'requests/s of a validated POST route: @Param + @Body with zod vs bare koa + router validating by hand',
  async run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 3);
    const passes = numberFromEnv('BENCH_PASSES', 2);
    const seconds = numberFromEnv('BENCH_SECONDS', 5);
    const warmup = numberFromEnv('BENCH_WARMUP_SECONDS', 1);
    const connections = numberFromEnv('BENCH_CONNECTIONS', 50);
    const { tool, how } = chooseLoadTool();
    const pin = cpuPinning();
    const subject = (name: string, command: readonly string[], env?: NodeJS.ProcessEnv): Subject => ({
      name,
      command,
      env,
      dionysus: env !== undefined,
      rps: [],
      cpuUs: [],
    });
    const bare = subject('koa + router, zod by hand', [
      process.execPath,
      join(__dirname, 'bare-servers.js'),
      'koa-router-validated',
    ]);
    const framework = subject(
      'dionysus @Param + @Body(zod)',
      [process.execPath, join(__dirname, 'validated-app.js'), 'http'],
      { OTEL_SDK_DISABLED: 'true' },
    );
    const subjects = [bare, framework];
    const perPass: number[] = [];
    for (let pass = 0; pass < passes; pass++) {
      const order = pass % 2 === 0 ? subjects : [...subjects].reverse();
      const before = subjects.map((s) => s.rps.length);
      for (const s of order) {
        const server: ServerProcess = startServer({
          name: s.name,
          command: s.command,
          env: s.env,
          core: pin.server,
          output: 'discard',
        });
        try {
          const port = (await server.descriptor('http')).http!.port!;
          if (s.dionysus)
            await waitUntil('readiness', async () => (await httpStatus(port, '/healthx/readiness')) === 200);
          const answer = await post(port);
          if (answer !== EXPECTED) throw new Error(`${s.name} answered ${answer}, expected ${EXPECTED}`);
          const target: LoadTarget = {
            url: `http://127.0.0.1:${port}${ORDER_PATH}`,
            method: 'POST',
            body: ORDER_BODY,
            headers: { 'content-type': 'application/json' },
          };
          await tool.run(target, warmup, connections, pin.load);
          for (let round = 0; round < rounds; round++) {
            const cpuBefore = processCpuMs(server.pid);
            const load = await tool.run(target, seconds, connections, pin.load);
            const cpuAfter = processCpuMs(server.pid);
            if (load.errors > 0) throw new Error(`${s.name}: ${load.errors} failed requests`);
            s.rps.push(load.requests / load.seconds);
            if (cpuBefore !== undefined && cpuAfter !== undefined)
              s.cpuUs.push(((cpuAfter - cpuBefore) * 1000) / load.requests);
          }
        } finally {
          await server.stop();
        }
      }
      const [b, f] = subjects.map((s, i) => median(s.rps.slice(before[i])));
      perPass.push(f! / b!);
    }
    const rps = (s: Subject): number => median(s.rps);
    const rows = subjects.map((s) => [
      s.name,
      rps(s).toFixed(0),
      (rps(s) / rps(bare)).toFixed(2),
      s.cpuUs.length > 0 ? median(s.cpuUs).toFixed(1) : '-',
    ]);
    return {
      reports: [],
      notes: [
        `validated route: POST ${ORDER_PATH} ${ORDER_BODY}, ${connections} connections; ${passes} passes × ${rounds} rounds × ${seconds} s per server, order rotated; medians`,
        '',
        ...formatTable(['', 'req/s', '× bare', 'server CPU µs/req'], rows).map((line) => `  ${line}`),
        '',
        targetLine('dionysus req/s', 'bare koa + router with zod (medians)', rps(framework) / rps(bare), 0.9, 'min'),
        `per pass: ${perPass.map((r) => r.toFixed(2)).join(', ')}`,
        how,
        pin.how,
      ],
    };
  },
};

export default bench;
