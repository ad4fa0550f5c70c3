/** One pino record of the framework's JSON log. */
export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The JSON log records in a command's stdout (what `stop()` or a child returns), in order. */
export function logRecords(stdout: string): LogRecord[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{') && line.endsWith('}'))
    .map((line) => JSON.parse(line) as LogRecord);
}

/** The access log lines: one per request (`msg: 'request'`). */
export function accessLines(stdout: string): LogRecord[] {
  return logRecords(stdout).filter((record) => record.msg === 'request');
}
