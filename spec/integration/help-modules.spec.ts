import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadedModules, SAMPLE_HELP } from '../../bench/modules.js';

/**
 * `app --help` is a cold start people wait on: it must not load the servers or
 * telemetry, each of which costs tens of ms (DESIGN §7). bench/modules.ts
 * records every script the process compiles, ESM included.
 */
const HEAVY_PACKAGES = ['koa', '@koa/router', '@grpc/grpc-js', 'pino', 'prom-client', 'config'];
const HEAVY_SCOPES = ['@opentelemetry/'];

/** The sample's controllers and services, listed lazily by its http and grpc commands, and what they import. */
const SERVER_PARTS = /^dist\/(samples\/app\/(controllers|services)\/|proto\/gen\/)/;

describe('app --help as a process', () => {
  it('loads none of koa, grpc-js, pino, prom-client, config or OpenTelemetry', () => {
    const loaded = [...loadedModules(SAMPLE_HELP).packages.keys()];
    expect(loaded, 'the recorder sees what --help needs').to.include('clipanion');
    const heavy = loaded.filter(
      (name) => HEAVY_PACKAGES.includes(name) || HEAVY_SCOPES.some((s) => name.startsWith(s)),
    );
    expect(heavy).to.deep.equal([]);
  });

  it('loads no controller or service module, nor zod their schemas use: they load when their command runs', () => {
    for (const args of [
      SAMPLE_HELP,
      [SAMPLE_HELP[0] as string, 'http', '--help'],
      [SAMPLE_HELP[0] as string, 'greet', '--name', 'x'],
    ]) {
      const { ownFiles, packages } = loadedModules(args);
      expect(ownFiles, args.join(' ')).to.include('dist/samples/app/commands/http.js');
      expect(
        ownFiles.filter((file) => SERVER_PARTS.test(file)),
        args.join(' '),
      ).to.deep.equal([]);
      expect([...packages.keys()], args.join(' ')).to.not.include('zod');
    }
  });

  it('the exec probes load none of the app: no command, controller or service module', () => {
    const runtimeDir = mkdtempSync(join(tmpdir(), 'dionysus-probe-modules-'));
    try {
      // No command runs there: the probe exits 1 saying so, after loading all it ever loads.
      const { ownFiles, packages } = loadedModules([SAMPLE_HELP[0] as string, 'liveness'], undefined, {
        exitCode: 1,
        env: { DIONYSUS_RUNTIME_DIR: runtimeDir },
      });
      expect(ownFiles.filter((file) => file.startsWith('dist/samples/') && file !== SAMPLE_HELP[0])).to.deep.equal([]);
      expect([...packages.keys()]).to.deep.equal([]);
    } finally {
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});
