import { Command, ReadinessCheck } from 'dionysus';
import { Dependency } from '../dependency.js';

/** `app grpc`: the gRPC server (port from GRPC_PORT); its services load when it runs, as http's controllers do. */
@Command('grpc', { description: 'Serve the gRPC API', services: () => require('../services/index.js').services })
export class GrpcCommand {
  constructor(private readonly dependency: Dependency) {}

  @ReadinessCheck('dependency')
  async dependencyReachable(): Promise<void> {
    await this.dependency.ping();
  }
}
