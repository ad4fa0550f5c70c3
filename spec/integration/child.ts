import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

/**
 * Helpers for integration specs that run real child processes: spawn, collect
 * output, wait for a line, wait for the exit under a deadline. Every child
 * started here is tracked, and `killChildren` (call it in `afterEach`) kills
 * the ones still running, so a failing spec never leaves a process behind.
 */

/** The compiled tree: this file runs as `dist/spec/integration/child.js`. */
export const DIST = resolve(__dirname, '..', '..');
/** The repository root (package.json, node_modules). */
export const ROOT = resolve(DIST, '..');
/** The compiled reference app's entry. */
export const SAMPLE = join(DIST, 'samples', 'app', 'main.js');
/** The compiled entry of a fixture app under spec/fixtures/. */
export const fixture = (name: string): string => join(DIST, 'spec', 'fixtures', name, 'main.js');

export interface Exit {
  /** null when the child was killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What the app printed to stdout, line by line, without the logger's JSON lines. */
  readonly lines: readonly string[];
  /** stderr without the logger's JSON lines (a task logs to stderr): usage, reported errors, warnings. */
  readonly errorText: string;
}

export interface SpawnOptions {
  readonly cwd?: string;
  /** Merged over the parent's environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const running = new Set<Child>();

/** A running child process with its output collected as it arrives. */
export class Child {
  readonly process: ChildProcess;
  readonly #command: string;
  #stdout = '';
  #stderr = '';
  #exit: Exit | undefined;
  readonly #exited: Promise<Exit>;
  readonly #waiters = new Set<() => void>();

  constructor(command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.#command = [command, ...args].join(' ');
    this.process = spawn(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      this.#notify();
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.#notify();
    });
    // 'close' (not 'exit') fires after both pipes are drained, so no output is lost.
    this.#exited = new Promise<Exit>((resolve, reject) => {
      this.process.once('error', reject);
      this.process.once('close', (code, signal) => {
        running.delete(this);
        const { stdout, stderr } = this;
        const errorText = printedLines(stderr, true)
          .map((line) => `${line}\n`)
          .join('');
        this.#exit = { code, signal, stdout, stderr, lines: printedLines(stdout, true), errorText };
        this.#notify();
        resolve(this.#exit);
      });
    });
    // Errors (e.g. a command that does not exist) surface through waitForExit/waitForLine.
    this.#exited.catch(() => undefined);
    running.add(this);
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** What the app printed to stdout so far, without the logger's JSON lines. */
  get lines(): readonly string[] {
    return printedLines(this.#stdout, false);
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  /** Sends a real signal. */
  signal(signal: NodeJS.Signals): void {
    this.process.kill(signal);
  }

  /** Resolves once stdout has a line equal to `line`; fails if the child exits first or the deadline passes. */
  waitForLine(line: string, timeoutMs = 5_000): Promise<void> {
    return this.#until(() => this.lines.includes(line), `a stdout line ${JSON.stringify(line)}`, timeoutMs);
  }

  /** Resolves once `done()` holds, checked as output arrives; fails like `waitForLine`. `what` names it in the failure. */
  waitFor(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    return this.#until(done, what, timeoutMs);
  }

  /**
   * Resolves with the exit. Past the deadline the child is killed and the
   * promise rejects with everything it printed, so a hang fails the test.
   */
  async waitForExit(timeoutMs = 10_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.process.kill('SIGKILL');
        reject(new Error(`${this.#command} did not exit within ${timeoutMs} ms${this.#transcript()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.#exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves if the child is still running after `ms`; rejects as soon as it
   * exits. Only for asserting that something does *not* happen (an ignored
   * signal), where there is no output to watch for.
   */
  async expectRunningFor(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const quiet = new Promise<'running'>((resolve) => {
      timer = setTimeout(() => resolve('running'), ms);
    });
    try {
      const first = await Promise.race([this.#exited, quiet]);
      if (first !== 'running') {
        throw new Error(`${this.#command} exited (code ${first.code}, signal ${first.signal})${this.#transcript()}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills the child if it is still running and resolves once it is gone. */
  async kill(): Promise<void> {
    if (!this.exited) this.process.kill('SIGKILL');
    await this.#exited.catch(() => undefined);
    running.delete(this);
  }

  #until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (done()) finish();
        else if (this.#exit) {
          const { code, signal } = this.#exit;
          finish(
            new Error(
              `${this.#command} exited (code ${code}, signal ${signal}) before printing ${what}${this.#transcript()}`,
            ),
          );
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`${this.#command} did not print ${what} within ${timeoutMs} ms${this.#transcript()}`)),
        timeoutMs,
      );
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.#waiters.add(check);
      this.#exited.catch((error: unknown) => finish(error as Error));
      check();
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #transcript(): string {
    return `\n--- stdout ---\n${this.#stdout}--- stderr ---\n${this.#stderr}`;
  }
}

/** Runs a compiled script with this process's node. */
export function node(script: string, args: readonly string[] = [], options?: SpawnOptions): Child {
  return new Child(process.execPath, [script, ...args], options);
}

/** Runs a command (e.g. npm) by name. */
export function run(command: string, args: readonly string[], options?: SpawnOptions): Child {
  return new Child(command, args, options);
}

/** Kills every child still running and waits for them; use as `afterEach(killChildren)`. */
export async function killChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.kill()));
}

/** The lines of a stack trace, which usage errors must never print. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((line) => /^\s+at /.test(line));
}

// The framework logs JSON lines (servers to stdout, tasks to stderr) between what the app prints; specs look at each apart.
function printedLines(text: string, ended: boolean): string[] {
  return linesOf(text, ended).filter((line) => !isLogRecord(line));
}

function isLogRecord(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** While the child runs, a last line without its newline is not complete yet; once it ended, it is. */
function linesOf(text: string, ended: boolean): string[] {
  const lines = text.split('\n');
  const last = lines.pop();
  return ended && last ? [...lines, last] : lines;
}
