import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, node, SAMPLE } from '../integration/child.js';
import { waitForLog, withoutShellConfig } from '../telemetry/log-lines.js';

/**
 * The sample's `grpc` command as a real child process on ephemeral ports,
 * in its own runtime dir, for specs that send real signals or run exec
 * probes against it.
 */

const dirs: string[] = [];

export interface RunningGrpc {
  readonly child: Child;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** The runtime dir: exec probes find the command through it. */
  readonly dir: string;
}

/** A fresh runtime dir; `removeRuntimeDirs` removes it. */
export function runtimeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'grpc-spec-'));
  dirs.push(dir);
  return dir;
}

/** Starts `app grpc` and resolves once it listens. */
export async function startGrpc(env: Readonly<Record<string, string | undefined>> = {}): Promise<RunningGrpc> {
  const dir = runtimeDir();
  const child = node(SAMPLE, ['grpc'], {
    env: {
      ...withoutShellConfig(),
      SAMPLE_DEPENDENCY_DOWN: undefined,
      SAMPLE_DEPENDENCY_LATENCY_MS: undefined,
      GRPC_PORT: '0',
      ADMIN_PORT: '0',
      DIONYSUS_RUNTIME_DIR: dir,
      ...env,
    },
  });
  const listening = await waitForLog(
    child,
    (line) => typeof (line.grpc as { port?: unknown } | undefined)?.port === 'number',
    'the grpc server to listen',
  );
  return { child, address: `127.0.0.1:${(listening.grpc as { port: number }).port}`, dir };
}

/** Removes the runtime dirs `startGrpc` made; call in `afterEach`, after the children are gone. */
export function removeRuntimeDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Runs `app <args…>` (an exec probe) against the runtime dir `dir`. */
export async function probe(
  dir: string,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<{ code: number | null; line: string; stderr: string }> {
  const exit = await node(SAMPLE, args, {
    env: { ...withoutShellConfig(), DIONYSUS_RUNTIME_DIR: dir, ...env },
  }).waitForExit(5_000);
  return { code: exit.code, line: exit.stdout.replace(/\n$/, ''), stderr: exit.stderr };
}
