import { expect } from 'chai';
import { DionysusError, GrpcError, HookError, HttpError } from 'dionysus';
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

describe('one error family', () => {
  it('makes HttpError and GrpcError DionysusErrors of kind http and grpc, keeping status, code and cause', () => {
    const cause = new Error('duplicate key value violates unique constraint');
    const http = new HttpError(409, 'the todo exists already', { code: 'TODO_EXISTS', details: { id: 1 }, cause });
    expect(http).to.be.instanceOf(DionysusError);
    expect(http).to.include({ kind: 'http', status: 409, code: 'TODO_EXISTS', expose: true, cause });
    expect(http.publicFields()).to.deep.equal({ code: 'TODO_EXISTS', details: { id: 1 } });
    expect(new HttpError(503, 'db down')).to.include({ kind: 'http', expose: false });
    expect(new HttpError(503, 'db down').publicFields()).to.deep.equal({});

    const grpc = new GrpcError(5, 'no user 7', { cause });
    expect(grpc).to.be.instanceOf(DionysusError);
    expect(grpc).to.include({ kind: 'grpc', code: 5, message: 'no user 7', expose: true, cause });
  });

  it('still refuses a status or code outside its range', () => {
    expect(() => new HttpError(302, 'moved')).to.throw(RangeError, 'HttpError status must be 400-599, got 302');
    expect(() => new GrpcError(0, 'ok')).to.throw(RangeError, 'GrpcError code must be 1-16, got 0');
  });

  it("logs a user's exposed HttpError with the frames where it was thrown, like any error of theirs", () => {
    const field = errorField(new HttpError(503, 'maintenance', { expose: true }));
    expect(field).to.include({ type: 'HttpError', kind: 'http', status: 503 });
    expect(field.stack).to.be.a('string').and.match(/^at /);
  });
});
