import { Clock, Command, Logger, Option, Output, PostRun, PreRun, Run, Shutdown } from 'dionysus';
import { Greeter } from '../greeter.js';

/**
 * `app greet --name x`: a one-shot task. Its Output (stdout) is the greeting
 * alone; its hooks log through the injected Logger (on stderr, as a task's
 * logs are). It waits on the injected Clock, so a test's FakeClock moves it.
 */
@Command('greet', { description: 'Print a greeting (a one-shot task)' })
export class GreetCommand {
  @Option('--name', { description: 'Who to greet', required: true })
  name!: string;

  @Option('--times', { description: 'How many greetings', valueName: 'N' })
  times: number = 1;

  @Option('--wait-ms', { description: 'Wait this long before greeting, until stopped', valueName: 'MS' })
  waitMs: number = 0;

  constructor(
    private readonly greeter: Greeter,
    private readonly log: Logger,
    private readonly out: Output,
    private readonly clock: Clock,
  ) {}

  @PreRun()
  prepare(): void {
    this.log.info({ name: this.name, times: this.times }, 'greeting prepared');
  }

  @Run()
  async run(signal: AbortSignal): Promise<void> {
    if (this.waitMs > 0) {
      this.log.info({ waitMs: this.waitMs }, 'waiting before greeting');
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, this.waitMs);
        signal.addEventListener('abort', () => {
          this.clock.clearTimeout(timer);
          resolve();
        });
      });
    }
    // The task's output: stdout carries nothing else.
    for (let i = 0; i < this.times; i++) this.out.write(`${this.greeter.greet(this.name)}\n`);
  }

  @Shutdown()
  stop(): void {
    this.log.info('greeting cut short by a stop signal');
  }

  @PostRun()
  finish(): void {
    this.log.info({ greeted: this.times }, 'greeting done');
  }
}
