import { expect } from 'chai';
import { HookError } from 'dionysus';
import { errorField } from '../../lib/telemetry/logger.js';

describe('error messages say each thing once', () => {
  it('adds a cause to a hook error message once, and a cause of the cause that is not in it yet', () => {
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    const wrapped = new Error(`loading the report failed: ${refused.message}`, { cause: refused });
    expect(new HookError('ReportCommand.run', 'run', wrapped).message).to.equal(
      'ReportCommand.run failed in run: loading the report failed: connect ECONNREFUSED 127.0.0.1:5432',
    );
    const bare = new Error('loading the report failed', { cause: refused });
    expect(new HookError('ReportCommand.run', 'run', bare).message).to.equal(
      'ReportCommand.run failed in run: loading the report failed: connect ECONNREFUSED 127.0.0.1:5432',
    );
  });

  it('logs an error with its type, fields and the frames where it was thrown, without its message', () => {
    const thrown = Object.assign(new Error('unknown format xml'), { code: 'E_FORMAT' });
    const field = errorField(new HookError('ReportCommand.run', 'run', thrown));
    expect(field).to.include({ type: 'HookError', hook: 'ReportCommand.run', phase: 'run' });
    expect(field.cause).to.deep.equal({ type: 'Error', code: 'E_FORMAT' });
    expect(field.stack).to.be.a('string').and.match(/^at /);
    expect(JSON.stringify(field)).to.not.include('unknown format xml');
  });
});
