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

/** A real process logging through the stdout logger, then running `then`. */
function logInChild(then: string, flushIntervalMs = 10): Child {
  const script = `
    const { createLogger } = require(${JSON.stringify(LOGGER)});
    const log = createLogger({ app: 'a', command: 'c', level: 'info', stream: process.stdout, flushIntervalMs: ${flushIntervalMs} });
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
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (stdout.includes('\n')) gotLine(stdout.slice(0, stdout.indexOf('\n')));
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    // 'close': the process has exited and its stdout and stderr are read to the end.
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { firstLine, exited, end: () => child.stdin.end() };
}

const messages = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { msg: string }).msg);

describe('buffered stdout logs', () => {
  it('writes lines while the process keeps running, in order, without waiting for exit', async () => {
    // The child stays alive until its stdin closes: a line can only come from the interval flush.
    const child = logInChild("process.stdin.resume(); process.stdin.on('end', () => process.exit(0));");
    expect(JSON.parse(await child.firstLine)).to.include({ msg: 'first', n: 1, app: 'a', command: 'c' });
    child.end();
    expect(messages((await child.exited).stdout)).to.deep.equal(['first', 'second']);
  });

  it('writes what is buffered on process.exit, even with a long interval', async () => {
    const child = logInChild('process.exit(3);', 60_000);
    const exit = await child.exited;
    expect(exit.code).to.equal(3);
    expect(messages(exit.stdout)).to.deep.equal(['first', 'second']);
  });

  it('writes what is buffered when an uncaught error ends the process', async () => {
    const child = logInChild("setTimeout(() => { throw new Error('boom'); }, 1);", 60_000);
    const exit = await child.exited;
    expect(exit.code).to.equal(1);
    expect(exit.stderr).to.include('boom');
    expect(messages(exit.stdout)).to.deep.equal(['first', 'second']);
  });

  it('writes lines longer than its buffer whole, after the lines queued before them', async () => {
    const long = 'x'.repeat(100_000);
    const child = logInChild(`log.logger.info({ long: '${long}' }, 'third'); process.exit(0);`, 60_000);
    const exit = await child.exited;
    expect(messages(exit.stdout)).to.deep.equal(['first', 'second', 'third']);
    expect(exit.stdout).to.include(long);
  });
});
