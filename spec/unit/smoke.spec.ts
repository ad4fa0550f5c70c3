import { expect } from 'chai';
import { runCommand } from 'dionysus/testing';
import { App } from '../../samples/app/app.js';

describe('sample app', () => {
  it('greets in-process and exits 0', async () => {
    const result = await runCommand(App, ['greet', '--name', 'x']);
    expect(result.exitCode).to.equal(0);
    expect(result.events.at(-1)).to.include({ type: 'exit', code: 0 });
  });
});
