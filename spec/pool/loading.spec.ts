import { expect } from 'chai';
import { loadedModules, SAMPLE_HELP } from '../../bench/modules.js';

const POOL_LIBRARIES = ['p-queue', 'piscina'];

/** The pool libraries a node command loads. */
function poolLibraries(nodeArgs: readonly string[]): string[] {
  return [...loadedModules(nodeArgs).packages.keys()].filter((name) => POOL_LIBRARIES.includes(name));
}

// The drivers are optional peer dependencies: an app pays for a pool library only once it builds a pool.
describe('dionysus/pool loads its libraries only for a pool', () => {
  it('importing dionysus and dionysus/pool, and the reference app’s --help, load neither p-queue nor piscina', () => {
    expect(poolLibraries(['-e', "require('dionysus'); require('dionysus/pool')"])).to.deep.equal([]);
    expect(poolLibraries(SAMPLE_HELP)).to.deep.equal([]);
  });

  it('a TaskPool loads p-queue, a CpuPool piscina', () => {
    expect(poolLibraries(['-e', "new (require('dionysus/pool').TaskPool)('jobs')"])).to.deep.equal(['p-queue']);
    const cpu = "const p = new (require('dionysus/pool').CpuPool)('cpu', { filename: __filename }); p.stop()";
    expect(poolLibraries(['-e', cpu])).to.deep.equal(['piscina']);
  });

  it('declaring a pool provider loads no prom-client: the registry is a token until the pool is built', () => {
    const loaded = [...loadedModules(['-e', "require('dionysus/pool').taskPool('jobs')"]).packages.keys()];
    expect(loaded).to.not.include('prom-client');
  });
});
