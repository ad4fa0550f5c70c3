/**
 * Cold exec probes (`app liveness`) against running ctl, http and grpc
 * samples, from `node dist/…` and from the single executable, next to
 * `node -e 0` and the floors a probe cannot beat (the client alone, the
 * server already running): one file read, a raw-socket HTTP GET, a node:http
 * GET and a node:http2 request. Targets (issues 4–7): ctl ≤ 1.2× time and
 * ≤ 1.3× peak memory; http ≤ 1.5×; grpc ≤ 2.0×; http from the executable ≤ 1.5×.
 *
 *   node dist/bench/run.js probes
 *   BENCH_RUNS=60 BENCH_EXE=dist/bin/app node dist/bench/run.js probes
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  type Bench,
  benchEnv,
  type ColdStartReport,
  coldStart,
  REPO_ROOT,
  type ServerProcess,
  type Subject,
  sampleExecutable,
  startServer,
  targetLine,
  waitUntil,
} from './harness.js';
import { describeModules, loadedModules } from './modules.js';

const node = process.execPath;
const SAMPLE = 'dist/samples/app/main.js';
const COMMANDS = ['ctl', 'http', 'grpc'] as const;
type Kind = (typeof COMMANDS)[number];

// The floors: what the client of each transport costs at the least, as one would write it inline.
const READ_FILE = "require('fs').readFileSync(process.argv[1])";
const RAW_GET =
  "const s=require('net').connect(+process.argv[1],'127.0.0.1',()=>s.end('GET /healthx/liveness HTTP/1.1\\r\\nhost: 127.0.0.1\\r\\nconnection: close\\r\\n\\r\\n'));s.resume()";
const HTTP_GET =
  "require('http').get({host:'127.0.0.1',port:+process.argv[1],path:'/healthx/liveness',agent:false},(r)=>r.resume())";
// grpc.health.v1.Health/Check with an empty request (service "").
const HTTP2_CALL =
  "const s=require('http2').connect('http://127.0.0.1:'+process.argv[1]);const r=s.request({':method':'POST',':path':'/grpc.health.v1.Health/Check','content-type':'application/grpc',te:'trailers'});r.resume();r.on('end',()=>s.close());r.end(Buffer.alloc(5))";

interface Running {
  readonly kind: Kind;
  readonly server: ServerProcess;
  /** The probe command line, without the probe name. */
  readonly app: readonly string[];
}

function startSample(kind: Kind, app: readonly string[], label: string): Running {
  return { kind, server: startServer({ name: `${label}-${kind}`, command: [...app, kind] }), app };
}

async function ready(running: Running): Promise<void> {
  await running.server.descriptor(running.kind === 'ctl' ? 'admin' : running.kind);
  await waitUntil(`${running.server.name} readiness`, () => probe(running, 'readiness') === 0, 15_000, 50);
}

function probe(running: Running, name: string): number | null {
  const [file, ...args] = running.app;
  return spawnSync(file!, [...args, name], {
    cwd: REPO_ROOT,
    env: benchEnv({ DIONYSUS_RUNTIME_DIR: running.server.runtimeDir }),
    stdio: 'ignore',
  }).status;
}

function probeSubject(name: string, running: Running): Subject {
  return {
    name,
    command: [...running.app, 'liveness'],
    env: { DIONYSUS_RUNTIME_DIR: running.server.runtimeDir },
  };
}

function rssRatio(report: ColdStartReport, subject: string, baseline: string): number | undefined {
  const of = (name: string) => report.subjects.find((s) => s.name === name)?.medianPeakRssKb;
  const a = of(subject);
  const b = of(baseline);
  return a === undefined || b === undefined ? undefined : a / b;
}

const bench: Bench = {
  description: 'cold exec probes (`app liveness`) against running ctl, http and grpc samples vs `node -e 0` and floors',
  async run() {
    const exe = sampleExecutable();
    const servers: Running[] = [];
    try {
      const fromNode = COMMANDS.map((kind) => startSample(kind, [node, SAMPLE], 'node'));
      servers.push(...fromNode);
      const fromExe = exe ? COMMANDS.map((kind) => startSample(kind, [exe.path], 'exe')) : [];
      servers.push(...fromExe);
      await Promise.all(servers.map(ready));
      const [ctl, http, grpc] = fromNode as [Running, Running, Running];
      const heartbeat = join(ctl.server.runtimeDir, 'ctl.heartbeat.json');
      const httpPort = String((await http.server.descriptor('http')).http!.port);
      const grpcPort = String((await grpc.server.descriptor('grpc')).grpc!.port);

      const subjects: Subject[] = [
        { name: 'node -e 0', command: [node, '-e', '0'] },
        { name: 'floor: file read', command: [node, '-e', READ_FILE, heartbeat] },
        { name: 'floor: raw socket GET', command: [node, '-e', RAW_GET, httpPort] },
        { name: 'floor: node:http GET', command: [node, '-e', HTTP_GET, httpPort] },
        { name: 'floor: node:http2 call', command: [node, '-e', HTTP2_CALL, grpcPort] },
        probeSubject('ctl liveness', ctl),
        probeSubject('http liveness', http),
        probeSubject('grpc liveness', grpc),
        ...fromExe.map((running) => probeSubject(`exe ${running.kind} liveness`, running)),
      ];
      const report = coldStart(subjects, {
        title: 'cold exec probe `app liveness` against a running command (client only; servers started once)',
        cwd: REPO_ROOT,
        baselines: ['node -e 0'],
        targets: [
          { subject: 'ctl liveness', baseline: 'node -e 0', max: 1.2 },
          { subject: 'http liveness', baseline: 'node -e 0', max: 1.5 },
          { subject: 'grpc liveness', baseline: 'node -e 0', max: 2.0 },
          ...(exe ? [{ subject: 'exe http liveness', baseline: 'node -e 0', max: 1.5 }] : []),
        ],
      });

      const notes: string[] = [];
      const memory = rssRatio(report, 'ctl liveness', 'node -e 0');
      notes.push(
        memory === undefined
          ? 'target: ctl liveness peak RSS ≤ 1.30× node -e 0: not measured (no GNU time)'
          : targetLine('ctl liveness peak RSS', 'node -e 0 (median)', memory, 1.3),
      );
      for (const name of ['http liveness', 'grpc liveness', ...fromExe.map((r) => `exe ${r.kind} liveness`)]) {
        const ratio = rssRatio(report, name, 'node -e 0');
        if (ratio !== undefined) notes.push(`${name} peak RSS: ${ratio.toFixed(2)}× node -e 0 (no target)`);
      }
      notes.push(
        'floors: the cheapest client of each transport (inline node -e scripts) against the same running servers;',
        '  a probe also finds and parses the descriptor, checks the pid and prints a line.',
        `executable: ${exe ? exe.how : 'skipped (BENCH_EXE=off)'}`,
      );
      for (const running of fromNode) {
        const args = [SAMPLE, 'liveness', '--runtime-dir', running.server.runtimeDir];
        notes.push(...describeModules(`${running.kind} liveness`, loadedModules(args), loadedModules(['-e', '0'])));
      }
      return { reports: [report], notes };
    } finally {
      await Promise.all(servers.map((running) => running.server.stop()));
      exe?.dispose();
    }
  },
};

export default bench;
