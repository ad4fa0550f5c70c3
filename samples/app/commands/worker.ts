import { Command, Logger, ReadinessCheck, Run, Shutdown } from 'dionysus';
import { Dependency } from '../dependency.js';

/** `app ctl`: a long-running worker loop (the kind consumers and schedulers are). */
@Command('ctl', { description: 'Run the background worker loop' })
export class WorkerCommand {
  #ticks = 0;

  constructor(
    private readonly dependency: Dependency,
    private readonly log: Logger,
  ) {}

  @Run()
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#ticks++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.log.info({ ticks: this.#ticks }, 'worker loop stopped');
  }

  @ReadinessCheck('dependency')
  async dependencyReachable(): Promise<void> {
    await this.dependency.ping();
  }

  @Shutdown()
  async flushWork(): Promise<void> {
    this.log.info('worker flushed pending work');
  }
}
