/**
 * The module a CPU pool's worker threads run: it loads the user's worker
 * module once per thread and calls its task function, and says when the task
 * started and ended, so the pool measures the wait and the run apart.
 */
import { fileURLToPath } from 'node:url';

export interface CpuJob {
  readonly filename: string;
  readonly name: string;
  readonly input: unknown;
}

export interface CpuOutcome {
  readonly value: unknown;
  /** `performance.timeOrigin + performance.now()` in the worker: comparable across threads. */
  readonly startedAt: number;
}

type Handler = (input: unknown) => unknown;

const handlers = new Map<string, Handler>();

export async function runJob(job: CpuJob): Promise<CpuOutcome> {
  const startedAt = performance.timeOrigin + performance.now();
  const value = await handlerOf(job.filename, job.name)(job.input);
  return { value, startedAt };
}

function handlerOf(filename: string, name: string): Handler {
  const key = `${filename}#${name}`;
  let handler = handlers.get(key);
  if (!handler) {
    const path = filename.startsWith('file:') ? fileURLToPath(filename) : filename;
    // require loads CommonJS and (Node ≥ 20.19) ES modules alike.
    const loaded = require(path) as Record<string, unknown> | Handler;
    const found =
      name === 'default'
        ? ((loaded as Record<string, unknown>).default ?? loaded)
        : (loaded as Record<string, unknown>)[name];
    if (typeof found !== 'function') {
      throw new TypeError(
        `CpuPool worker ${filename}: its ${name} export is not a function (it is ${typeof found}); export the task function`,
      );
    }
    handlers.set(key, (handler = found as Handler));
  }
  return handler;
}
