import { Logger, Main, PostRun, PreRun, Shutdown } from 'dionysus';
import { GreetCommand } from './commands/greet.js';
import { GrpcCommand } from './commands/grpc.js';
import { HttpCommand } from './commands/http.js';
import { WorkerCommand } from './commands/worker.js';
import { Greeter } from './greeter.js';

/**
 * The reference app: every issue grows it by a command. Its hooks log
 * through the injected Logger, as a service's would: JSON lines on stdout for
 * the servers, on stderr for the greet task (whose stdout is its greeting).
 */
@Main({
  name: 'app',
  description: 'The dionysus reference app',
  commands: [HttpCommand, GrpcCommand, WorkerCommand, GreetCommand],
  providers: [Greeter],
})
export class App {
  constructor(private readonly log: Logger) {}

  @PreRun({ order: -1 })
  openResources(): void {
    this.log.info('resources opened');
  }

  @Shutdown()
  closeServers(): void {
    this.log.info('taking no new work');
  }

  @PostRun()
  releaseResources(): void {
    this.log.info('resources released');
  }
}

export default App;
