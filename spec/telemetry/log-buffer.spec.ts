import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';

const LOGGER = join(__dirname, '..', '..', 'lib', 'telemetry', 'logger.js');

interface Child {
  /** Resolves with the first stdout line, while the process still runs. */
  readonly firstLine: Promise<string>;
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  end(): void;
}

type Stream = 'stdout' | 'stderr';

/** A real process logging through the logger to `stream` (stdout for servers, stderr for tasks), then running `then`. */
function logInChild(stream: Stream, then: string, flushIntervalMs = 10): Child {
  const script = `
    const { createLogger } = require(${JSON.stringify(LOGGER)});
    const log = createLogger({ app: 'a', command: 'c', level: 'info', stream: process.${stream}, flushIntervalMs: ${flushIntervalMs} });
    log.logger.info({ n: 1 }, 'first');
    log.logger.info({ n: 2 }, 'second');
    ${then}
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let gotLine: (line: string) => void = () => {};
  const firstLine = new Promise<string>((resolve) => {
    gotLine = resolve;
  });
  const logged = (): string => (stream === 'stdout' ? stdout : stderr);
  const seen = (): void => {
    if (logged().includes('\n')) gotLine(logged().slice(0, logged().indexOf('\n')));
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    seen();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    seen();
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    // 'close': the process has exited and its stdout and stderr are read to the end.
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { firstLine, exited, end: () => child.stdin.end() };
}

/** The messages of the JSON lines of `text`; other lines (an uncaught error's stack on stderr) are left out. */
const messages = (text: string): string[] =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);

for (const stream of ['stdout', 'stderr'] as const) {
  describe(`buffered ${stream} logs`, () => {
    it('writes lines while the process keeps running, in order, without waiting for exit', async () => {
      // The child stays alive until its stdin closes: a line can only come from the interval flush.
      const child = logInChild(stream, "process.stdin.resume(); process.stdin.on('end', () => process.exit(0));");
      expect(JSON.parse(await child.firstLine)).to.include({ msg: 'first', n: 1, app: 'a', command: 'c' });
      child.end();
      expect(messages((await child.exited)[stream])).to.deep.equal(['first', 'second']);
    });

    it('writes what is buffered on process.exit, even with a long interval', async () => {
      const child = logInChild(stream, 'process.exit(3);', 60_000);
      const exit = await child.exited;
      expect(exit.code).to.equal(3);
      expect(messages(exit[stream])).to.deep.equal(['first', 'second']);
    });

    it('writes what is buffered when an uncaught error ends the process', async () => {
      const child = logInChild(stream, "setTimeout(() => { throw new Error('boom'); }, 1);", 60_000);
      const exit = await child.exited;
      expect(exit.code).to.equal(1);
      expect(exit.stderr).to.include('boom');
      expect(messages(exit[stream])).to.deep.equal(['first', 'second']);
    });

    it('writes lines longer than its buffer whole, after the lines queued before them', async () => {
      const long = 'x'.repeat(100_000);
      const child = logInChild(stream, `log.logger.info({ long: '${long}' }, 'third'); process.exit(0);`, 60_000);
      const exit = await child.exited;
      expect(messages(exit[stream])).to.deep.equal(['first', 'second', 'third']);
      expect(exit[stream]).to.include(long);
    });
  });
}
