import { Command, ReadinessCheck } from 'dionysus';
import { Dependency } from '../dependency.js';
import { GreeterGrpc } from '../services/greeter.js';

/** `app grpc`: the gRPC server (port from GRPC_PORT). */
@Command('grpc', { description: 'Serve the gRPC API', services: [GreeterGrpc] })
export class GrpcCommand {
  constructor(private readonly dependency: Dependency) {}

  @ReadinessCheck('dependency')
  async dependencyReachable(): Promise<void> {
    await this.dependency.ping();
  }
}
