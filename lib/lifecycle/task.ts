import type { RunContext, RunHandle, ServerRunner } from './runner.js';

/** Calls the command's `@Run(signal)` method; the run ends when it settles. */
export function methodRunner(label = 'task'): ServerRunner {
  return {
    label,
    async start(context: RunContext): Promise<RunHandle> {
      const method = context.command.run;
      if (!method) throw new Error(`${context.command.cls.name} has no @Run method`);
      const target = context.instance as Record<string, (signal: AbortSignal) => unknown>;
      // Deferred a tick so a synchronous throw becomes a rejection of `ended`.
      const ended = Promise.resolve()
        .then(() => target[method]?.(context.signal))
        .then(() => undefined);
      return { ended };
    },
  };
}
