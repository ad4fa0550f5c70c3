import type { LifecycleEvent } from './events.js';

/**
 * The fallback reporter: every error of a run on stderr, one line each, so a
 * failing hook is never silent even without a logger.
 */
export function stderrReporter(app: string, stderr: NodeJS.WritableStream): (event: LifecycleEvent) => void {
  return (event) => {
    if (event.type === 'signal' && event.forced) {
      stderr.write(`${app} ${event.command}: second ${event.signal}, exiting at once\n`);
    } else if (event.type === 'exit') {
      for (const error of event.errors) stderr.write(`${app} ${event.command}: ${error.message}\n`);
    }
  };
}
