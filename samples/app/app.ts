import { Main, PostRun, PreRun, Shutdown } from 'dionysus';
import { GreetCommand } from './commands/greet.js';
import { GrpcCommand } from './commands/grpc.js';
import { HttpCommand } from './commands/http.js';
import { WorkerCommand } from './commands/worker.js';
import { Greeter } from './greeter.js';

/** The reference app: every issue grows it by a command. */
@Main({
  name: 'app',
  description: 'The dionysus reference app',
  commands: [HttpCommand, GrpcCommand, WorkerCommand, GreetCommand],
  providers: [Greeter],
})
export class App {
  @PreRun({ order: -1 })
  openResources(): void {
    console.log('main prerun');
  }

  @Shutdown()
  closeServers(): void {
    console.log('main shutdown');
  }

  @PostRun()
  releaseResources(): void {
    console.log('main postrun');
  }
}

export default App;
