import { expect } from 'chai';
import { FakeClock, override, runCommand } from 'dionysus/testing';
import { App } from '../../samples/app/app.js';
import { Greeter } from '../../samples/app/greeter.js';

describe('sample app', () => {
  it('greets in-process and exits 0', async () => {
    const result = await runCommand(App, ['greet', '--name', 'x']);
    expect(result.exitCode).to.equal(0);
    expect(result.events.at(-1)).to.include({ type: 'exit', code: 0 });
  });

  it('returns what greet wrote to its Output, with the Greeter overridden', async () => {
    const result = await runCommand(App, ['greet', '--name', 'x', '--times', '2'], {
      overrides: [override(Greeter).useValue({ greet: (name) => `hi ${name}` })],
    });
    expect(result.stdout).to.equal('hi x\nhi x\n');
  });

  it("waits greet's --wait-ms on the test's FakeClock, not on the wall clock", async () => {
    const clock = new FakeClock();
    const run = runCommand(App, ['greet', '--name', 'x', '--wait-ms', '600000'], { clock });
    await clock.advance(600_000);
    expect((await run).stdout).to.equal('hello x\n');
  });
});
