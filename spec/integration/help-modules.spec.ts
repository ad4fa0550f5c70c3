import { expect } from 'chai';
import { loadedModules, SAMPLE_HELP } from '../../bench/modules.js';

/**
 * `app --help` is a cold start people wait on: it must not load the servers or
 * telemetry, each of which costs tens of ms (DESIGN §7). bench/modules.ts
 * records every script the process compiles, ESM included.
 */
const HEAVY_PACKAGES = ['koa', '@koa/router', '@grpc/grpc-js', 'pino', 'prom-client', 'config'];
const HEAVY_SCOPES = ['@opentelemetry/'];

describe('app --help as a process', () => {
  it('loads none of koa, grpc-js, pino, prom-client, config or OpenTelemetry', () => {
    const loaded = [...loadedModules(SAMPLE_HELP).packages.keys()];
    expect(loaded, 'the recorder sees what --help needs').to.include('clipanion');
    const heavy = loaded.filter(
      (name) => HEAVY_PACKAGES.includes(name) || HEAVY_SCOPES.some((s) => name.startsWith(s)),
    );
    expect(heavy).to.deep.equal([]);
  });
});
