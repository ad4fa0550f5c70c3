/**
 * Start-to-ready of long-running sample commands, as ratios to a bare node
 * start: `ctl` with tracing off and on (issue 3), `http` from `node dist/…`
 * and from the single executable (issue 7), plus cold `app --help` from the
 * executable (target ≤ 3.5× `node -e 0`) and the executable's size.
 *
 * Ready means the `state running` log line (pino, stdout): the lifecycle
 * emits it once every runner has started (the http server listens, the ctl
 * loop and its heartbeat run), before which readiness fails. It is the same
 * marker for every command and costs no polling; the first http run checks
 * that `GET /healthx/readiness` answers 200 at that moment.
 *
 *   node dist/bench/run.js startup
 *   BENCH_RUNS=30 BENCH_EXE=dist/bin/app node dist/bench/run.js startup
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Bench,
  benchEnv,
  closedPort,
  coldStart,
  formatTable,
  httpStatus,
  median,
  quantile,
  REPO_ROOT,
  runCountsFromEnv,
  sampleExecutable,
  tempDir,
} from './harness.js';

const node = process.execPath;
const SAMPLE = 'dist/samples/app/main.js';
const READY = '"state":"running"';
/** Start-to-ready runs per subject unless BENCH_RUNS says otherwise: each takes a few hundred ms. */
const DEFAULT_RUNS = 15;

interface Starter {
  readonly name: string;
  readonly command: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Undefined: timed to exit (the `node -e 0` baseline). */
  readonly ready?: string;
}

interface Started {
  readonly ms: number;
  /** The http port named in the log, when there is one. */
  readonly httpPort?: number;
}

/**
 * Spawns the command and resolves with the ms from spawn to the `ready`
 * marker on stdout (or to exit); `atReady` runs before the process is killed.
 */
function startToReady(
  starter: Starter,
  runtimeDir: string,
  atReady?: (started: Started) => Promise<void>,
): Promise<Started> {
  const [file, ...args] = starter.command;
  return new Promise((resolve, reject) => {
    const begin = process.hrtime.bigint();
    const child = spawn(file!, args, {
      cwd: REPO_ROOT,
      env: benchEnv({
        HTTP_PORT: '0',
        ADMIN_PORT: '0',
        DIONYSUS_RUNTIME_DIR: runtimeDir,
        ...starter.env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let started: Started | undefined;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (started || !starter.ready) return;
      out += chunk.toString('utf8');
      if (!out.includes(starter.ready)) return;
      const port = /"http":\{"host":"[^"]*","port":(\d+)\}/.exec(out)?.[1];
      started = { ms: Number(process.hrtime.bigint() - begin) / 1e6, httpPort: port ? Number(port) : undefined };
      const kill = (): void => {
        child.kill('SIGKILL');
      };
      (atReady ? atReady(started) : Promise.resolve()).then(kill, (error: unknown) => {
        kill();
        reject(error);
      });
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!starter.ready && code === 0) return resolve({ ms: Number(process.hrtime.bigint() - begin) / 1e6 });
      if (started) return resolve(started);
      reject(new Error(`${starter.name} exited (${code ?? signal}) before it was ready:\n${err}${out.slice(-2000)}`));
    });
  });
}

async function checkReadiness(started: Started): Promise<void> {
  if (started.httpPort === undefined) throw new Error('no http port in the log before `state running`');
  const status = await httpStatus(started.httpPort, '/healthx/readiness');
  if (status !== 200) throw new Error(`GET /healthx/readiness answered ${status} at \`state running\``);
}

const bench: Bench = {
  description: 'start-to-ready of ctl and http (node and the executable) and the executable `--help`, vs `node -e 0`',
  async run() {
    const runs = process.env.BENCH_RUNS ? runCountsFromEnv().runs : DEFAULT_RUNS;
    const warmups = runCountsFromEnv().warmups;
    const exe = sampleExecutable();
    // Each start gets its own runtime dir: a killed process leaves its descriptor behind.
    const root = tempDir('startup');
    let started = 0;
    const runtimeDir = (): string => join(root, String(started++));
    try {
      const otlp = `http://127.0.0.1:${await closedPort()}`;
      const starters: Starter[] = [
        { name: 'node -e 0', command: [node, '-e', '0'] },
        { name: 'ctl, tracing off', command: [node, SAMPLE, 'ctl'], ready: READY },
        {
          name: 'ctl, tracing on',
          command: [node, SAMPLE, 'ctl'],
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp },
          ready: READY,
        },
        { name: 'http', command: [node, SAMPLE, 'http'], ready: READY },
        ...(exe ? [{ name: 'exe http', command: [exe.path, 'http'], ready: READY }] : []),
      ];
      // Before measuring: at the marker, the http command must already be ready.
      await startToReady(starters.find((s) => s.name === 'http')!, runtimeDir(), checkReadiness);
      if (exe) await startToReady(starters.find((s) => s.name === 'exe http')!, runtimeDir(), checkReadiness);

      const times = starters.map(() => [] as number[]);
      for (let round = 0; round < warmups + runs; round++) {
        for (const [i, starter] of starters.entries()) {
          const { ms } = await startToReady(starter, runtimeDir());
          if (round >= warmups) times[i]!.push(ms);
        }
      }
      const base = median(times[0]!);
      const rows = starters.map((starter, i) => [
        starter.name,
        median(times[i]!).toFixed(1),
        quantile(times[i]!, 0.9).toFixed(1),
        (median(times[i]!) / base).toFixed(2),
      ]);
      const ratioOf = (name: string): number => median(times[starters.findIndex((s) => s.name === name)]!) / base;
      const lines = [
        'start-to-ready (spawn → `state running` log line; node -e 0: spawn → exit)',
        `  ${runs} runs per command after ${warmups} warm-ups, interleaved; NODE_EXTRA_CA_CERTS unset on every side`,
        '',
        ...formatTable(['', 'median ms', 'p90 ms', '× node -e 0'], rows).map((line) => `  ${line}`),
        '',
        `  tracing on = OTEL_EXPORTER_OTLP_ENDPOINT=${otlp} (nothing listens there; the batch processor exports later, so refused exports cost nothing before ready)`,
        `  issue 3 asks for both ctl figures: tracing off ${ratioOf('ctl, tracing off').toFixed(2)}×, on ${ratioOf('ctl, tracing on').toFixed(2)}× node -e 0`,
        `  issue 7: a minimal NestJS app measured ~17× node -e 0 to listening (not measured here); http from node: ${ratioOf('http').toFixed(2)}×${exe ? `, from the executable: ${ratioOf('exe http').toFixed(2)}×` : ''}`,
        '  checked before measuring: GET /healthx/readiness answers 200 at the `state running` line (node and executable)',
        '',
      ];

      const reports = [];
      if (exe) {
        reports.push(
          coldStart(
            [
              { name: 'node -e 0', command: [node, '-e', '0'] },
              { name: 'node app --help', command: [node, SAMPLE, '--help'] },
              { name: 'exe --help', command: [exe.path, '--help'] },
            ],
            {
              title: 'cold `app --help` from the single executable',
              cwd: REPO_ROOT,
              baselines: ['node -e 0'],
              targets: [{ subject: 'exe --help', baseline: 'node -e 0', max: 3.5 }],
            },
          ),
        );
      }
      const notes = [
        ...lines,
        exe
          ? `executable: ${(exe.bytes / 1024 / 1024).toFixed(1)} MiB (node itself is most of it); ${exe.how}`
          : 'executable: skipped (BENCH_EXE=off)',
      ];
      return { reports, notes };
    } finally {
      exe?.dispose();
      rmSync(root, { recursive: true, force: true });
    }
  },
};

export default bench;
