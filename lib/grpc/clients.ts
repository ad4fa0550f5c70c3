// The framework's own gRPC clients, for apps and tools that ask a running
// server: `import { HealthClient } from 'dionysus/grpc'`. Generated with
// dionysus-proto, so importing this loads no @grpc/grpc-js until a client is built.
export {
  HealthControlClient,
  type HealthControlServer,
  HealthControlService,
  SetSwitchRequest,
  SetSwitchResponse,
} from '../../proto/gen/dionysus/health/v1/control.js';
export {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  type HealthServer,
  HealthService,
} from '../../proto/gen/grpc/health/v1/health.js';
