/**
 * The client load of the gRPC benches: `inflight` unary SayHello calls kept
 * in flight over `channels` channels (each its own connection), no deadline.
 * Calls in the warm-up are not counted; the bench reads the server's CPU time
 * when the `measuring` line appears and when the result line does.
 *
 *   node dist/bench/grpc-load.js <port> <warmup s> <seconds> <inflight> <channels>
 *   → measuring
 *   → {"calls":…,"errors":…,"ms":…,"firstError":…}
 */
import type { ServiceError } from '@grpc/grpc-js';

export interface LoadResult {
  readonly calls: number;
  readonly errors: number;
  readonly ms: number;
  readonly firstError?: string;
}

export const MEASURING = 'measuring';

async function main([port, warmup, seconds, inflight, channels]: number[]): Promise<void> {
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const { GreeterClient } =
    require('../proto/gen/helloworld/helloworld.js') as typeof import('../proto/gen/helloworld/helloworld.js');
  const clients = Array.from(
    { length: channels! },
    // A local subchannel pool: one connection per client, not one shared by all.
    () =>
      new GreeterClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve, reject) =>
          client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve())),
        ),
    ),
  );
  let counting = false;
  let stopped = false;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const loop = (client: (typeof clients)[number]): void => {
    if (stopped) return;
    client.sayHello({ name: 'x' }, (error: ServiceError | null) => {
      if (counting) {
        if (error) {
          errors++;
          firstError ??= error.message;
        } else calls++;
      }
      loop(client);
    });
  };
  for (let i = 0; i < inflight!; i++) loop(clients[i % clients.length]!);
  await new Promise((resolve) => setTimeout(resolve, warmup! * 1000));
  counting = true;
  process.stdout.write(`${MEASURING}\n`);
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds! * 1000));
  counting = false;
  const result: LoadResult = { calls, errors, ms: performance.now() - start, firstError };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  stopped = true;
  for (const client of clients) client.close();
  process.exit(0);
}

if (require.main === module) {
  const args = process.argv.slice(2).map(Number);
  if (args.length !== 5 || args.some((n) => !Number.isFinite(n) || n < 0)) {
    process.stderr.write('usage: grpc-load <port> <warmup s> <seconds> <inflight> <channels>\n');
    process.exit(2);
  }
  main(args).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
