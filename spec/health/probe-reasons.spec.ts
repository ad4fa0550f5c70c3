import { expect } from 'chai';
import { removeRuntimeDirs as removeGrpcDirs, startGrpc } from '../grpc/children.js';
import { removeRuntimeDirs as removeHttpDirs, startSample } from '../http/sample-process.js';
import { killChildren } from '../integration/child.js';
import { probe, probeUntil, removeRuntimeDirs, startCtl } from './probe-children.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The sample's three long-running commands as real processes, each in its own runtime dir. */
const TRANSPORTS: readonly { name: string; start: (env: Env) => Promise<{ dir: string }> }[] = [
  { name: 'http', start: (env) => startSample({ env }) },
  { name: 'grpc', start: (env) => startGrpc(env) },
  { name: 'ctl', start: (env) => startCtl({ env }) },
];

/** What `app readiness` prints against each transport, once it fails (ctl applies a switch within a heartbeat). */
async function failingLines(env: Env, before?: (dir: string) => Promise<unknown>): Promise<Record<string, string>> {
  const lines: Record<string, string> = {};
  for (const { name, start } of TRANSPORTS) {
    const { dir } = await start(env);
    await before?.(dir);
    lines[name] = (await probeUntil(dir, ['readiness'], (run) => run.code === 1)).line;
  }
  return lines;
}

// `app readiness` says what is closed or failing in the same words on every transport.
describe('exec probe reasons', () => {
  afterEach(async () => {
    await killChildren();
    removeRuntimeDirs();
    removeHttpDirs();
    removeGrpcDirs();
  });

  it('name the failing check and its error the same way on http, grpc and ctl', async () => {
    const lines = await failingLines({ SAMPLE_DEPENDENCY_DOWN: '1' });
    const same = 'readiness failed: check dependency failed: dependency unreachable';
    expect(lines).to.deep.equal({ http: same, grpc: same, ctl: same });
  });

  it('say that the switch is closed the same way on http, grpc and ctl', async () => {
    const lines = await failingLines({}, async (dir) => {
      expect((await probe(dir, ['readiness'], { HEALTH_STATUS: 'close' })).code).to.equal(0);
    });
    const same = 'readiness failed: readiness is switched closed';
    expect(lines).to.deep.equal({ http: same, grpc: same, ctl: same });
  });
});
