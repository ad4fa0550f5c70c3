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
 * like a record but does not parse fails the test here, not later.
 */
export function logLines(stdout: string): LogLine[] {
  return stdout
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
 * Variables of the developer's shell that would change what a child process
 * or an in-process run does; specs start from none of them.
 */
export function withoutTelemetryEnv(): Record<string, undefined> {
  const names = [
    'LOG_LEVEL',
    'HTTP_PORT',
    'GRPC_PORT',
    'ADMIN_PORT',
    'DIONYSUS_RUNTIME_DIR',
    'NODE_CONFIG',
    'NODE_CONFIG_DIR',
    'NODE_ENV',
    'KUBERNETES_SERVICE_HOST',
    ...Object.keys(process.env).filter((name) => name.startsWith('OTEL_')),
  ];
  return Object.fromEntries(names.map((name) => [name, undefined]));
}
