/**
 * `app startup|liveness|readiness`: the exec probe client. It loads none of
 * the app, the container, the servers or telemetry.
 */
export async function runProbe(argv: readonly string[]): Promise<number> {
  process.stdout.write(`${argv[0]}: no probe transport is available in this version\n`);
  return 1;
}
