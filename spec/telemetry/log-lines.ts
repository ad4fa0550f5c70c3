import { ENV_OVERRIDES } from '../../lib/config/load.js';
import type { Child } from '../integration/child.js';

/** One pino record as the framework writes it. */
export interface LogLine {
  readonly level: string;
  readonly time: string;
  readonly app: string;
  readonly command: string;
  readonly pid: number;
  readonly msg: string;
  readonly hook?: string;
  readonly phase?: string;
  readonly durationMs?: number;
  readonly outcome?: string;
  readonly trace_id?: string;
  readonly span_id?: string;
  readonly [field: string]: unknown;
}

/**
 * Every stdout line that starts with `{`, parsed as JSON: a line that looks
 * like a record but does not parse fails the test here, not later. Pass
 * `partial` for the output of a process still running: its last line may not
 * be complete yet (pino ends every record with a newline).
 */
export function logLines(stdout: string, { partial = false } = {}): LogLine[] {
  const text = partial ? stdout.slice(0, stdout.lastIndexOf('\n') + 1) : stdout;
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`a stdout line is not a JSON log record: ${line}`);
      }
    });
}

/**
 * Resolves with the first log line of a running child that matches; fails if
 * it exits first or after `timeoutMs`. Servers log to stdout, tasks to stderr.
 */
export async function waitForLog(
  child: Child,
  match: (line: LogLine) => boolean,
  what: string,
  timeoutMs = 5_000,
  stream: 'stdout' | 'stderr' = 'stdout',
): Promise<LogLine> {
  const find = () => logLines(child[stream], { partial: true }).find(match);
  await child.waitFor(() => find() !== undefined, what, timeoutMs);
  return find() as LogLine;
}

/** The messages of `lines` that are in `names`, in the order logged, repeats kept: compare it with `names`. */
export function messagesAmong(lines: readonly LogLine[], names: readonly string[]): string[] {
  return lines.map((line) => line.msg).filter((msg) => names.includes(msg));
}

/** The lines that report a lifecycle hook (they have a `hook` field). */
export function hookLines(lines: readonly LogLine[]): LogLine[] {
  return lines.filter((line) => typeof line.hook === 'string');
}

/** The one line with this message; fails naming what was logged instead. */
export function lineWith(lines: readonly LogLine[], msg: string): LogLine {
  const found = lines.filter((line) => line.msg === msg);
  if (found.length !== 1) {
    throw new Error(`expected one log line "${msg}", found ${found.length} in:\n${lines.map((l) => l.msg).join('\n')}`);
  }
  return found[0] as LogLine;
}

/**
 * Unsets the variables of the developer's shell that would change what a
 * child process does (configuration, ports, log level, OTEL_*): merge it
 * first into a child's env, then set what the test needs.
 */
export function withoutShellConfig(): Record<string, undefined> {
  const names = [
    ...ENV_OVERRIDES.map(([name]) => name),
    'HEALTH_STATUS',
    'NODE_CONFIG',
    'NODE_CONFIG_DIR',
    'NODE_CONFIG_ENV',
    'NODE_APP_INSTANCE',
    'NODE_ENV',
    'SUPPRESS_NO_CONFIG_WARNING',
    'KUBERNETES_SERVICE_HOST',
    ...Object.keys(process.env).filter((name) => name.startsWith('OTEL_')),
  ];
  return Object.fromEntries(names.map((name) => [name, undefined]));
}
