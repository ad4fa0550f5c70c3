import { Command, ReadinessCheck } from 'dionysus';
import { GreetingController } from '../controllers/greeting.js';
import { Dependency } from '../dependency.js';

/** `app http`: the HTTP server (port from HTTP_PORT). */
@Command('http', { description: 'Serve the HTTP API', controllers: [GreetingController] })
export class HttpCommand {
  constructor(private readonly dependency: Dependency) {}

  @ReadinessCheck('dependency')
  async dependencyReachable(): Promise<void> {
    await this.dependency.ping();
  }
}
