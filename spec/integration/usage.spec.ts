import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { killChildren, node, ROOT, SAMPLE, stackLines } from './child.js';

// Usage errors print a message and usage, never a stack, and exit 2.
describe('the sample app command line', () => {
  afterEach(killChildren);

  it('rejects an unknown command with exit 2, a message and no stack trace', async () => {
    const exit = await node(SAMPLE, ['nope']).waitForExit();
    expect(exit.code).to.equal(2);
    expect(exit.stderr).to.include('Command not found');
    expect(stackLines(exit.stderr)).to.deep.equal([]);
    expect(exit.lines).to.deep.equal([]);
  });

  it('rejects a bad option value with exit 2, naming the option', async () => {
    const exit = await node(SAMPLE, ['greet', '--name', 'x', '--times', 'abc']).waitForExit();
    expect(exit.code).to.equal(2);
    expect(exit.stderr).to.include('--times').and.to.include('"abc"');
    expect(stackLines(exit.stderr)).to.deep.equal([]);
    expect(exit.lines, 'no hook runs on a usage error').to.deep.equal([]);
  });

  it('rejects a missing required option with exit 2, showing it in the usage', async () => {
    const exit = await node(SAMPLE, ['greet']).waitForExit();
    expect(exit.code).to.equal(2);
    expect(exit.stderr).to.include('greet: missing required option --name');
    expect(stackLines(exit.stderr)).to.deep.equal([]);
    expect(exit.lines).to.deep.equal([]);
  });

  it('lists the commands with their descriptions on --help and exits 0', async () => {
    const exit = await node(SAMPLE, ['--help']).waitForExit();
    expect(exit.code).to.equal(0);
    expect(exit.stdout).to.include('app greet').and.to.include('Print a greeting (a one-shot task)');
  });

  it('prints the probe flags with named values on `app readiness --help` (answered before the app loads) and exits 0', async () => {
    const exit = await node(SAMPLE, ['readiness', '--help']).waitForExit();
    expect(exit.code).to.equal(0);
    expect(exit.stdout).to.include('[--command NAME] [--runtime-dir DIR] [--timeout MS]');
    expect(exit.stderr).to.equal('');
  });

  it('prints the package.json version on --version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const exit = await node(SAMPLE, ['--version']).waitForExit();
    expect(exit.code).to.equal(0);
    expect(exit.lines).to.deep.equal([version]);
  });

  it('asks for a command with exit 2 when given no arguments', async () => {
    const exit = await node(SAMPLE, []).waitForExit();
    expect(exit.code).to.equal(2);
    expect(exit.stderr).to.include('A command is required').and.to.include('greet');
    expect(stackLines(exit.stderr)).to.deep.equal([]);
  });
});
