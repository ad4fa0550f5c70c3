import { expect } from 'chai';
import { runCommand } from 'dionysus/testing';
import { TelemetryApp } from '../fixtures/telemetry/app.js';
import { logLines } from './log-lines.js';

describe('a lifecycle event listener that throws', () => {
  it('is logged at error, naming the event it failed on, and the run goes on', async () => {
    const result = await runCommand(TelemetryApp, ['greet'], {
      env: {},
      onEvent: (event) => {
        if (event.type === 'state' && event.state === 'running') throw new Error('subscriber broke');
      },
    });
    expect(result.exitCode, result.stderr).to.equal(0);
    const failed = logLines(`${result.stdout}\n${result.stderr}`).filter(
      (line) => line.level === 'error' && /listener failed/.test(line.msg),
    );
    expect(failed).to.have.length(1);
    expect(failed[0]?.msg).to.equal('a lifecycle event listener failed on state: subscriber broke');
  });
});
