import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DIST, killChildren, run, SAMPLE } from '../integration/child.js';
import { withoutShellConfig } from './log-lines.js';
import { OtlpReceiver } from './otlp-receiver.js';

/** Prints, at exit, which OpenTelemetry SDK / exporter modules the process loaded. */
const PRELOAD = join(DIST, 'spec', 'fixtures', 'module-report', 'preload.js');

describe('tracing off loads no OpenTelemetry SDK', () => {
  const receiver = new OtlpReceiver();
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dionysus-modules-'));
  });

  afterEach(async () => {
    await killChildren();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `app greet` with the preload and returns the SDK modules it had loaded at exit. */
  async function sdkModulesOf(env: Record<string, string | undefined>): Promise<string[]> {
    const report = join(dir, 'modules.json');
    const child = run(process.execPath, ['--require', PRELOAD, SAMPLE, 'greet', '--name', 'x'], {
      env: { ...withoutShellConfig(), ...env, MODULE_REPORT: report },
    });
    const exit = await child.waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    const loaded: unknown = JSON.parse(readFileSync(report, 'utf8'));
    expect(loaded).to.be.an('array');
    return loaded as string[];
  }

  it('loads neither @opentelemetry/sdk-trace nor the OTLP exporter when no OTEL_* variable is set', async () => {
    expect(await sdkModulesOf({})).to.deep.equal([]);
  });

  it('loads neither when OTEL_SDK_DISABLED=true, even with an endpoint', async () => {
    const endpoint = await receiver.start();
    expect(await sdkModulesOf({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'true' })).to.deep.equal([]);
    expect(receiver.requests).to.deep.equal([]);
  });

  it('loads both when OTEL_EXPORTER_OTLP_ENDPOINT is set (the check can see them)', async () => {
    const endpoint = await receiver.start();
    const loaded = await sdkModulesOf({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    expect(
      loaded.some((path) => path.includes('@opentelemetry/sdk-trace')),
      loaded.join('\n'),
    ).to.equal(true);
    expect(
      loaded.some((path) => path.includes('exporter-trace-otlp')),
      loaded.join('\n'),
    ).to.equal(true);
    expect(receiver.requests).to.have.length.at.least(1);
  });
});
