/**
 * Unary SayHello calls/s on the sample's grpc command with every default on
 * (access log per call on stdout, here /dev/null; metrics; default deadline;
 * tracing off) against a bare grpc-js server with the same handler and the
 * same generated GreeterService (bench/bare-servers.ts). The same client load
 * (bench/grpc-load.ts: N calls in flight over a few channels, one process)
 * drives both, alternated in slices; figures are medians of the rounds.
 * A single client process limits the rate here, so the server's CPU time per
 * call (from /proc) is reported too: it is the fairer figure. Target (issue
 * 6): calls/s ≥ 0.9× bare.
 *
 *   node dist/bench/run.js grpc-throughput
 *   BENCH_ROUNDS=5 BENCH_SECONDS=10 BENCH_INFLIGHT=128 BENCH_CHANNELS=2 node dist/bench/run.js grpc-throughput
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type LoadResult, MEASURING } from './grpc-load.js';
import {
  type Bench,
  benchEnv,
  cpuPinning,
  formatTable,
  median,
  numberFromEnv,
  onCore,
  processCpuMs,
  REPO_ROOT,
  type ServerProcess,
  startServer,
  targetLine,
} from './harness.js';

interface Round {
  readonly callsPerSecond: number;
  readonly errors: number;
  readonly cpuUsPerCall?: number;
  readonly firstError?: string;
}

interface Subject {
  readonly name: string;
  readonly server: ServerProcess;
  port: number;
  readonly rounds: Round[];
}

interface Load {
  readonly warmup: number;
  readonly seconds: number;
  readonly inflight: number;
  readonly channels: number;
  readonly core: number | undefined;
}

/** One slice: the client runs, the server's CPU time is read when the measured window opens and closes. */
function slice(subject: Subject, load: Load): Promise<Round> {
  const script = join(__dirname, 'grpc-load.js');
  const args = [subject.port, load.warmup, load.seconds, load.inflight, load.channels].map(String);
  const [file, ...rest] = onCore(load.core, [process.execPath, script, ...args]);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, rest, { cwd: REPO_ROOT, env: benchEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let before: number | undefined;
    let after: number | undefined;
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (before === undefined && out.includes(`${MEASURING}\n`)) before = processCpuMs(subject.server.pid);
      if (after === undefined && out.includes('}\n')) after = processCpuMs(subject.server.pid);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`grpc load against ${subject.name} failed (${code}):\n${err}`));
      const result = JSON.parse(line) as LoadResult;
      resolve({
        callsPerSecond: (result.calls * 1000) / result.ms,
        errors: result.errors,
        firstError: result.firstError,
        cpuUsPerCall:
          before === undefined || after === undefined || result.calls === 0
            ? undefined
            : ((after - before) * 1000) / result.calls,
      });
    });
  });
}

const bench: Bench = {
  description: 'unary SayHello calls/s: the sample with all defaults vs a bare grpc-js server, and server CPU per call',
  async run() {
    const rounds = numberFromEnv('BENCH_ROUNDS', 3);
    const pin = cpuPinning();
    const load: Load = {
      warmup: numberFromEnv('BENCH_WARMUP_SECONDS', 1),
      seconds: numberFromEnv('BENCH_SECONDS', 5),
      inflight: numberFromEnv('BENCH_INFLIGHT', 64),
      channels: numberFromEnv('BENCH_CHANNELS', 2),
      core: pin.load,
    };
    const subjects: Subject[] = [];
    const start = (name: string, command: readonly string[], env: NodeJS.ProcessEnv = {}): Subject => {
      const subject = {
        name,
        server: startServer({ name, command, env, core: pin.server, output: 'discard' }),
        port: 0,
        rounds: [],
      };
      subjects.push(subject);
      return subject;
    };
    try {
      start('bare grpc-js', [process.execPath, join(__dirname, 'bare-servers.js'), 'grpc-js']);
      // Every default on; tracing off whatever this shell's OTEL_* say.
      start('sample (defaults)', [process.execPath, join(REPO_ROOT, 'dist/samples/app/main.js'), 'grpc'], {
        OTEL_SDK_DISABLED: 'true',
      });
      for (const subject of subjects) subject.port = (await subject.server.descriptor('grpc')).grpc!.port!;
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? subjects : [...subjects].reverse();
        for (const subject of order) subject.rounds.push(await slice(subject, load));
      }
    } finally {
      await Promise.all(subjects.map((subject) => subject.server.stop()));
    }

    const [bare, sample] = subjects as [Subject, Subject];
    const rate = (subject: Subject): number => median(subject.rounds.map((r) => r.callsPerSecond));
    const cpu = (subject: Subject): number | undefined => {
      const values = subject.rounds.map((r) => r.cpuUsPerCall).filter((v): v is number => v !== undefined);
      return values.length > 0 ? median(values) : undefined;
    };
    const rows = subjects.map((subject) => [
      subject.name,
      rate(subject).toFixed(0),
      (rate(subject) / rate(bare)).toFixed(2),
      cpu(subject)?.toFixed(1) ?? '-',
      cpu(subject) !== undefined && cpu(bare) !== undefined ? (cpu(subject)! / cpu(bare)!).toFixed(2) : '-',
      String(subject.rounds.reduce((sum, r) => sum + r.errors, 0)),
    ]);
    const firstError = subjects.flatMap((s) => s.rounds).find((r) => r.firstError)?.firstError;
    const perRound = sample.rounds.map((r, i) => (r.callsPerSecond / bare.rounds[i]!.callsPerSecond).toFixed(2));
    const cpuSample = cpu(sample);
    const cpuBare = cpu(bare);
    const notes = [
      `grpc throughput: unary SayHello, ${load.inflight} calls in flight over ${load.channels} channels from one client process (no deadline), ${rounds} rounds × ${load.seconds} s (each after a ${load.warmup} s warm-up), servers alternated; medians of the rounds`,
      '',
      ...formatTable(['', 'calls/s', '× bare', 'server CPU µs/call', '× bare CPU', 'failed'], rows).map(
        (line) => `  ${line}`,
      ),
      '',
      targetLine('sample (defaults) calls/s', 'bare grpc-js (medians)', rate(sample) / rate(bare), 0.9, 'min'),
      `sample / bare per round: ${perRound.join(', ')}`,
      cpuSample !== undefined && cpuBare !== undefined
        ? `server CPU per call: the sample spends ${Math.abs(cpuSample - cpuBare).toFixed(1)} µs ${cpuSample >= cpuBare ? 'more' : 'less'} per call; were the server the limit, calls/s would be about ${(cpuBare / cpuSample).toFixed(2)}× bare (neither server is saturated: per-call CPU also moves with how many calls share a wake-up)`
        : 'server CPU per call: not measured (no /proc)',
      ...(firstError ? [`first failed call: ${firstError}`] : []),
      pin.how,
      'sample: access log line per call to /dev/null, metrics on, default deadline timer per call (the client sends none), tracing off (OTEL_SDK_DISABLED=true)',
      'bare server: bench/bare-servers.ts (grpc-js defaults, the same generated GreeterService, sayHello only)',
    ];
    return { reports: [], notes };
  },
};

export default bench;
