import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { ROOT } from './child.js';

/**
 * Every name a declaration file exports, following `export * from` and
 * `export { … } from` into the files it names (tsc writes one statement a
 * line, lists included).
 */
function exportedNames(file: string, seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  if (seen.has(file)) return names;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const [, from] of text.matchAll(/^export \* from '(.+)';$/gm)) {
    for (const name of exportedNames(join(dirname(file), (from as string).replace(/\.js$/, '.d.ts')), seen)) {
      names.add(name);
    }
  }
  for (const [, list] of text.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const item of (list as string).split(',')) {
      const name = item
        .trim()
        .replace(/^type /, '')
        .split(/\s+as\s+/)
        .pop();
      if (name) names.add(name);
    }
  }
  const declared =
    /^export (?:declare )?(?:abstract )?(?:class|interface|type|function|const|let|enum|namespace) ([A-Za-z0-9_$]+)/gm;
  for (const [, name] of text.matchAll(declared)) names.add(name as string);
  return names;
}

const sorted = (names: Iterable<string>): string[] => [...names].sort((a, b) => a.localeCompare(b));

// A new name here is a decision about the public contract: add it on purpose, never by leaking an internal.
const DIONYSUS_VALUES = [
  'AppConfig',
  'Body',
  'bootstrap',
  'Clock',
  'Command',
  'Controller',
  'Ctx',
  'Delete',
  'DionysusError',
  'execute',
  'Get',
  'GrpcError',
  'GrpcService',
  'Headers',
  'Health',
  'HookError',
  'HookTimeoutError',
  'HttpError',
  'Inject',
  'Injectable',
  'InjectConfig',
  'launch',
  'LifecycleEvents',
  'LivenessCheck',
  'Logger',
  'Main',
  'Option',
  'Output',
  'Param',
  'Patch',
  'PlanError',
  'Post',
  'PostRun',
  'PreRun',
  'Put',
  'Query',
  'ReadinessCheck',
  'RequestValidationError',
  'Run',
  'Shutdown',
  'StartupCheck',
];
const DIONYSUS_TYPES = [
  'AbstractClass',
  'ClassProvider',
  'FactoryProvider',
  'InjectDecorator',
  'Provider',
  'Resource',
  'ResourceCheck',
  'Token',
  'ValueProvider',
  'CheckOptions',
  'CheckResult',
  'CommandOptions',
  'ControllerOptions',
  'ErrorKind',
  'ExecuteOptions',
  'HookOptions',
  'HttpErrorOptions',
  'HttpMethod',
  'Infer',
  'LazyList',
  'LifecycleEvent',
  'LifecycleListener',
  'LifecycleState',
  'MainOptions',
  'MemberDecorator',
  'MiddlewareLike',
  'OptionOptions',
  'Outcome',
  'ParamDecorator',
  'Phase',
  'Probe',
  'ProbeKind',
  'ProbeReport',
  'RequestIssue',
  'RouteOptions',
  'ServerKind',
  'SignalSource',
  'StopSignal',
];
const TESTING_VALUES = [
  'Capture',
  'createTestContainer',
  'FakeClock',
  'FakeSignals',
  'override',
  'preload',
  'runCommand',
  'startInMemory',
  'startServer',
];
const TESTING_TYPES = [
  'InMemoryServer',
  'Override',
  'OverrideBuilder',
  'RunOptions',
  'RunResult',
  'TestConfig',
  'TestOptions',
  'TestServer',
  'TestServerOptions',
];

describe('the public surface', () => {
  it("exports from 'dionysus' what users write code against, and nothing internal", () => {
    const values = Object.keys(require('dionysus') as object);
    expect(sorted(values)).to.deep.equal(sorted(DIONYSUS_VALUES));
    const all = exportedNames(join(ROOT, 'dist/lib/index.d.ts'));
    expect(sorted(all)).to.deep.equal(sorted([...DIONYSUS_VALUES, ...DIONYSUS_TYPES]));
    for (const internal of ['AppPlan', 'CommandPlan', 'ServerRunner', 'RunHandle', 'RunContext', 'Io', 'DeepPartial']) {
      expect(all).to.not.include(internal);
    }
    expect(values).to.not.include('frameworkDefaults');
  });

  it("exports from 'dionysus/testing' the test helpers alone", () => {
    expect(sorted(Object.keys(require('dionysus/testing') as object))).to.deep.equal(sorted(TESTING_VALUES));
    expect(sorted(exportedNames(join(ROOT, 'dist/lib/testing/index.d.ts')))).to.deep.equal(
      sorted([...TESTING_VALUES, ...TESTING_TYPES]),
    );
  });
});
