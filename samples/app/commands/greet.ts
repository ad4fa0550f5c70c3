import { Command, Option, PostRun, PreRun, Run, Shutdown } from 'dionysus';
import { Greeter } from '../greeter.js';

/** `app greet --name x`: a task whose hooks print their order. */
@Command('greet', { description: 'Print a greeting (a one-shot task)' })
export class GreetCommand {
  @Option('--name', { description: 'Who to greet', required: true })
  name!: string;

  @Option('--times', { description: 'How many greetings', valueName: 'N' })
  times: number = 1;

  @Option('--wait-ms', { description: 'Wait this long before greeting, until stopped', valueName: 'MS' })
  waitMs: number = 0;

  constructor(private readonly greeter: Greeter) {}

  @PreRun()
  prepare(): void {
    console.log('command prerun');
  }

  @Run()
  async run(signal: AbortSignal): Promise<void> {
    if (this.waitMs > 0) {
      console.log('waiting');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.waitMs);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (let i = 0; i < this.times; i++) console.log(this.greeter.greet(this.name));
  }

  @Shutdown()
  stop(): void {
    console.log('command shutdown');
  }

  @PostRun()
  finish(): void {
    console.log('command postrun');
  }
}
