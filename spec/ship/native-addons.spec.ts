import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { bundleApp, shipAddons } from '../../lib/ship/build-binary.js';
import { killChildren, node } from '../integration/child.js';

// How the builder takes native addons along, on bundles run by plain node from a folder of their own
// (the single executable loads them the same way: spec/ship/sql-executable.spec.ts).
describe('native addons in the bundle', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dionysus-native-'));
  });
  afterEach(async () => {
    await killChildren();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Bundles `source` (an entry written in its own folder) into `out/`, with its addons in `out/native/`. */
  const bundle = async (source: string) => {
    const entry = join(dir, 'src', 'entry.js');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(entry, source);
    const out = join(dir, 'out');
    const result = await bundleApp(entry, join(out, 'app.cjs'), { version: '1.0.0', logLevel: 'silent' });
    return { ...result, out, shipped: shipAddons(result.addons, out) };
  };

  it('ships a .node file required by path and loads it from native/ beside the bundle', async () => {
    const addon = require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    const { out, shipped } = await bundle(`console.log(typeof require(${JSON.stringify(addon)}).Database);`);
    expect(shipped).to.deep.equal(['native/better-sqlite3/build/Release/better_sqlite3.node']);
    rmSync(join(dir, 'src'), { recursive: true });
    const exit = await node(join(out, 'app.cjs'), [], { cwd: out }).waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    expect(exit.stdout).to.equal('function\n');
    // The bundle holds no path into node_modules: without native/ it cannot load the addon.
    rmSync(join(out, 'native'), { recursive: true });
    const alone = await node(join(out, 'app.cjs'), [], { cwd: out }).waitForExit();
    expect(alone.code).to.equal(1);
    expect(alone.stderr).to.include(
      `better-sqlite3's native addon better-sqlite3/build/Release/better_sqlite3.node is missing: ${join(out, 'native')}`,
    );
  });

  it('refuses a bindings call whose addon name it cannot read, naming the package', async () => {
    const pkg = join(dir, 'src', 'node_modules', 'computed-addon');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'computed-addon', main: 'index.js' }));
    writeFileSync(join(pkg, 'index.js'), `const name = 'x' + 'y'; module.exports = require('bindings')(name);`);
    const error = await bundle(`require('computed-addon');`).catch((e: Error) => e);
    expect((error as Error).message).to.include(
      `computed-addon: ${join(pkg, 'index.js')} loads a native addon through 'bindings' without naming it in a string literal, so the builder cannot tell which .node file to ship`,
    );
  });

  it('warns about a loader that picks its addon at run time, and requiring it throws (a fallback can catch it)', async () => {
    const pkg = join(dir, 'src', 'node_modules', 'prebuilt-addon');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'prebuilt-addon', main: 'index.js' }));
    writeFileSync(join(pkg, 'index.js'), `module.exports = require('node-gyp-build')(__dirname);`);
    const { out, warnings, shipped } = await bundle(
      `try { require('prebuilt-addon'); } catch (e) { console.log('fallback: ' + e.message); }`,
    );
    const message =
      'prebuilt-addon loads its native addon through node-gyp-build, which picks a file at run time; the single executable cannot ship it, and requiring node-gyp-build throws there';
    expect(warnings).to.deep.equal([message]);
    expect(shipped).to.deep.equal([]);
    const exit = await node(join(out, 'app.cjs'), [], { cwd: out }).waitForExit();
    expect(exit.stdout).to.equal(`fallback: ${message}\n`);
  });
});
