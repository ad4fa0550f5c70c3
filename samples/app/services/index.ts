import { GreeterGrpc } from './greeter.js';

/** The grpc command's services, loaded when it runs (see commands/grpc.ts). */
export const services = [GreeterGrpc];
