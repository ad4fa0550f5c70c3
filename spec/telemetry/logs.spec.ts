import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { expect } from 'chai';
import { runCommand, startServer } from 'dionysus/testing';
import { TelemetryApp } from '../fixtures/telemetry/app.js';
import { fixture, killChildren, node, SAMPLE } from '../integration/child.js';
import { hookLines, lineWith, logLines, withoutShellConfig } from './log-lines.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** The user's hooks of `telemetry greet`, in the order they run, with their phase. */
const GREET_HOOKS = [
  ['TelemetryApp.openResources', 'prerun'],
  ['GreetCommand.prepare', 'prerun'],
  ['GreetCommand.run', 'run'],
  ['GreetCommand.finish', 'postrun'],
  ['TelemetryApp.releaseResources', 'postrun'],
];

describe('logs: pino JSON lines, on stderr for tasks', () => {
  afterEach(killChildren);

  it('writes every line as JSON with level, time, app, command, pid and msg', async () => {
    const result = await runCommand(TelemetryApp, ['greet'], { env: {} });
    expect(result.exitCode).to.equal(0);
    const lines = logLines(result.stderr);
    // In-process, a task's stderr holds only the logger's output: no line may be anything else.
    expect(result.stderr.split('\n').filter((line) => line !== '')).to.have.length(lines.length);
    expect(lines).to.have.length.above(10);
    for (const line of lines) {
      expect(LEVELS, JSON.stringify(line)).to.include(line.level);
      expect(new Date(line.time).toISOString()).to.equal(line.time);
      expect(line).to.include({ app: 'telemetry', command: 'greet', pid: process.pid });
      expect(line.msg).to.be.a('string').and.not.equal('');
    }
  });

  it("leaves a task's stdout to the task: framework and Logger lines of a one-shot task go to stderr", async () => {
    const result = await runCommand(TelemetryApp, ['greet'], { env: {} });
    expect(result.exitCode).to.equal(0);
    expect(result.stdout, 'app greet | jq reads only what the task prints').to.equal('');
    const lines = logLines(result.stderr);
    expect(lineWith(lines, 'framework ok')).to.include({ phase: 'framework' });
    expect(lineWith(lines, 'hello world')).to.include({ step: 'run' });
  });

  it('keeps the log lines of a long-running command on stdout, where collectors read them', async () => {
    const server = await startServer(TelemetryApp, 'http');
    const result = await server.stop();
    expect(result.exitCode).to.equal(0);
    expect(lineWith(logLines(result.stdout), 'exit 0')).to.include({ command: 'http' });
    expect(logLines(result.stderr)).to.deep.equal([]);
  });

  it('logs each hook with its Class.method, phase, duration and outcome', async () => {
    const result = await runCommand(TelemetryApp, ['greet'], { env: {} });
    const hooks = hookLines(logLines(result.stderr));
    const userHooks = hooks.filter((line) => !line.hook?.startsWith('framework.'));
    expect(userHooks.map((line) => [line.hook, line.phase])).to.deep.equal(GREET_HOOKS);
    for (const line of hooks) {
      expect(line).to.include({ level: 'info', outcome: 'ok' });
      expect(line.durationMs).to.be.a('number').and.at.least(0);
    }
    // The framework's own steps are hooks too, in the order of the design: logger → config → tracing → metrics.
    const framework = hooks.filter((line) => line.phase === 'framework').map((line) => line.hook);
    const steps = ['framework.logger', 'framework.config', 'framework.tracing', 'framework.metrics'];
    expect(picked(framework, steps)).to.deep.equal(steps);
    expect(lineWith(logLines(result.stderr), 'exit 0')).to.include({ level: 'info', code: 0 });
  });

  it('logs a failing hook at error level, naming the hook, its phase and the cause', async () => {
    const result = await runCommand(TelemetryApp, ['fail'], { env: {} });
    expect(result.exitCode).to.equal(1);
    const lines = logLines(result.stderr);
    const failed = hookLines(lines).find((line) => line.hook === 'FailCommand.connect');
    expect(failed).to.include({ level: 'error', phase: 'prerun', outcome: 'failed' });
    expect(failed?.msg).to.include('FailCommand.connect').and.include('database unreachable');
    expect(failed?.err).to.include({ type: 'HookError' });
    // PostRun still ran and said so; the exit line carries the error.
    expect(hookLines(lines).find((line) => line.hook === 'FailCommand.disconnect')).to.include({ outcome: 'ok' });
    const exit = lineWith(lines, 'exit 1');
    expect(exit).to.include({ level: 'error', code: 1 });
    expect(exit.errors).to.be.an('array').with.length(1);
    expect((exit.errors as string[])[0]).to.include('FailCommand.connect');
  });

  it('keeps only warn and above with LOG_LEVEL=warn', async () => {
    const clean = await runCommand(TelemetryApp, ['greet'], { env: { LOG_LEVEL: 'warn' } });
    expect(clean.exitCode).to.equal(0);
    expect(logLines(clean.stderr)).to.deep.equal([]);

    const failing = await runCommand(TelemetryApp, ['fail'], { env: { LOG_LEVEL: 'warn' } });
    const lines = logLines(failing.stderr);
    expect(lines.map((line) => line.level)).to.not.include('info');
    expect(lines.map((line) => [line.level, line.msg])).to.deep.include.members([
      ['warn', 'disconnecting after a failed start'],
      ['error', 'exit 1'],
    ]);
    expect(hookLines(lines).map((line) => [line.level, line.hook])).to.deep.equal([['error', 'FailCommand.connect']]);
  });

  it('shows the debug lines of user code with LOG_LEVEL=debug', async () => {
    const result = await runCommand(TelemetryApp, ['greet'], { env: { LOG_LEVEL: 'debug' } });
    expect(lineWith(logLines(result.stderr), 'greeting done')).to.include({ level: 'debug', step: 'finish' });
  });

  it('puts no trace ids on lines when tracing is off', async () => {
    const result = await runCommand(TelemetryApp, ['greet'], { env: {} });
    for (const line of logLines(result.stderr)) {
      expect(line, line.msg).to.not.have.any.keys('trace_id', 'span_id');
    }
  });

  it("gives a line logged inside a hook the trace and span ids of that hook's span", async () => {
    const exporter = new InMemorySpanExporter();
    const result = await runCommand(TelemetryApp, ['greet'], { env: {}, spanExporter: exporter });
    expect(result.exitCode).to.equal(0);
    const spans = exporter.getFinishedSpans();
    const spanOf = (name: string) => {
      const span = spans.find((s) => s.name === name);
      if (!span) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(', ')}`);
      return span.spanContext();
    };
    const lines = logLines(result.stderr);
    for (const [msg, hook] of [
      ['resources open', 'TelemetryApp.openResources'],
      ['preparing the greeting', 'GreetCommand.prepare'],
      // Logged after an await inside the run: the context followed it.
      ['hello world', 'GreetCommand.run'],
    ] as const) {
      const { traceId, spanId } = spanOf(hook);
      expect(lineWith(lines, msg), msg).to.include({ trace_id: traceId, span_id: spanId });
    }
  });

  it('logs the same fields from a real process of the sample app', async () => {
    const child = node(SAMPLE, ['greet', '--name', 'x'], { env: withoutShellConfig() });
    const exit = await child.waitForExit();
    expect(exit.code).to.equal(0);
    expect(exit.lines).to.include('hello x');
    const lines = logLines(exit.stderr);
    expect(lines).to.have.length.above(10);
    for (const line of lines) {
      expect(line).to.include({ app: 'app', command: 'greet', pid: child.process.pid });
      expect(line).to.include.keys('level', 'time', 'msg');
    }
    const hooks = hookLines(lines).map((line) => line.hook);
    const expected = [
      'App.openResources',
      'GreetCommand.prepare',
      'GreetCommand.run',
      'GreetCommand.finish',
      'App.releaseResources',
    ];
    expect(picked(hooks, expected)).to.deep.equal(expected);
  });

  describe('a hook that hangs (a real process)', () => {
    const HANG = fixture('hanging-shutdown');

    it('is logged at error level with its Class.method when it outlives its deadline', async () => {
      const child = node(HANG, ['hang'], { env: { ...withoutShellConfig(), FIXTURE_SHUTDOWN_TIMEOUT_MS: '200' } });
      await child.waitForLine('waiting');
      child.signal('SIGTERM');
      const exit = await child.waitForExit();
      expect(exit.code).to.equal(1);
      const lines = logLines(exit.stderr);
      const hung = hookLines(lines).find((line) => line.hook === 'HangCommand.closeForever');
      expect(hung).to.include({ level: 'error', phase: 'shutdown', outcome: 'timeout' });
      expect(hung?.msg).to.include('HangCommand.closeForever').and.include('200 ms');
      expect(lineWith(lines, 'exit 1')).to.include({ level: 'error' });
    });

    it('still writes every line, up to the exit line, on a forced exit', async () => {
      const child = node(HANG, ['hang'], { env: { ...withoutShellConfig(), FIXTURE_SHUTDOWN_TIMEOUT_MS: '60000' } });
      await child.waitForLine('waiting');
      child.signal('SIGTERM');
      await child.waitForLine('shutdown hanging');
      child.signal('SIGTERM');
      const exit = await child.waitForExit();
      expect(exit.code).to.equal(143);
      const lines = logLines(exit.stderr);
      expect(lineWith(lines, 'second SIGTERM: exiting at once')).to.include({ level: 'warn', signal: 'SIGTERM' });
      expect(lines.at(-1)).to.include({ msg: 'exit 143', code: 143 });
      expect(exit.stderr.endsWith('\n'), 'the last record is complete').to.equal(true);
    });
  });
});

/** `actual` reduced to the items in `names`, keeping its order and repeats: compare it with `names`. */
function picked(actual: readonly (string | undefined)[], names: readonly string[]): string[] {
  return actual.filter((item): item is string => item !== undefined && names.includes(item));
}
