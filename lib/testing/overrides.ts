import type { Container } from 'inversify';
import type { AbstractClass, ConcreteClass as Concrete, Token } from '../../decorators/inject.js';
import { Output } from '../cli/output.js';
import { AppConfig } from '../config/app-config.js';
import { makeInjectable } from '../container/container.js';
import { DionysusError } from '../errors.js';
import { Clock } from '../lifecycle/clock.js';
import { Logger } from '../telemetry/tokens.js';

/** What a token resolves to: a class's instance, or `unknown` for a string or symbol. */
export type Resolved<K> = K extends AbstractClass<infer I> ? I : unknown;

/** One replaced binding, made by `override(token).useValue/useClass/useFactory`. */
export interface Override {
  readonly token: Token;
  /** Rebinds the token in the container. */
  readonly apply: (container: Container) => void;
}

/** What `override(token)` replaces the token's binding with; `T` is what the token resolves to. */
export interface OverrideBuilder<T> {
  /** This value, as it is. */
  useValue(value: T): Override;
  /** A class the container builds (once) in its place, its constructor dependencies injected. */
  useClass(cls: Concrete<T>): Override;
  /**
   * What the factory returns (once), called with the tokens of `inject`
   * resolved. An async factory resolves before the first PreRun hook.
   * @example
   * override('CLOCK_OFFSET').useFactory((config: AppConfig) => config.get<number>('offset'), [AppConfig])
   */
  useFactory<const D extends readonly Token[] = []>(
    factory: (...deps: { -readonly [I in keyof D]: Resolved<D[I]> }) => T | Promise<T>,
    inject?: D,
  ): Override;
}

/**
 * Replaces what the app binds to `token`, for a test (in the spirit of
 * Nest's `overrideProvider`). A class token's value must be assignable to
 * its instance type. The override applies after the app's own bindings; one
 * for a token the app never binds is an error naming the token.
 * @example
 * createTestContainer(App, { overrides: [override(Database).useValue(fakeDb)] });
 * runCommand(App, ['report'], { overrides: [override('REPORT_LIMIT').useValue(3)] });
 */
export function override<T>(token: AbstractClass<T>): OverrideBuilder<T>;
export function override<T = unknown>(token: string | symbol): OverrideBuilder<T>;
export function override<T>(token: Token<T>): OverrideBuilder<T> {
  const id = token as never;
  return {
    useValue: (value) => ({ token, apply: (c) => c.bind(id).toConstantValue(value as never) }),
    useClass: (cls) => ({
      token,
      apply: (c) => {
        makeInjectable(cls);
        c.bind(id).to(cls as never);
      },
    }),
    useFactory: (factory, inject) => ({
      token,
      apply: (c) => {
        const deps = (inject ?? []) as readonly Token[];
        // A sync factory keeps `container.get` working; a promise makes the binding async (`getAsync`, or a run).
        c.bind(id).toDynamicValue((context) =>
          (factory as (...args: unknown[]) => never)(...deps.map((dep) => context.get(dep as never))),
        );
      },
    }),
  };
}

/** Tokens the framework binds anew for every run: an override would be replaced, so each has its own option. */
const RUN_BOUND = new Map<unknown, string>([
  [AppConfig, "pass `config` (the app's keys and dionysus) instead"],
  [Clock, 'pass `clock` (e.g. a FakeClock) instead'],
  [Output, 'runCommand captures it: read `stdout` of the result'],
  [Logger, 'the run binds its own; its lines are in `stdout` (servers) or `stderr` (tasks) of the result'],
]);

/** Rebinds each override's token, after checking them all: every problem is reported at once. */
export function applyOverrides(container: Container, overrides: readonly Override[]): void {
  const problems: string[] = [];
  const seen = new Set<Token>();
  for (const { token } of overrides) {
    const name = tokenName(token);
    const hint = RUN_BOUND.get(token);
    if (hint) problems.push(`override(${name}): the framework binds ${name} for each run; ${hint}.`);
    else if (seen.has(token)) problems.push(`override(${name}): overridden twice; keep one.`);
    else if (!container.isBound(token as never)) {
      problems.push(
        `override(${name}): the app binds no ${name}; override a provider, a command or a class the app's container builds (check the token, or add it to @Main({ providers })).`,
      );
    }
    seen.add(token);
  }
  if (problems.length > 0) throw overrideError(problems);
  for (const one of overrides) {
    container.unbind(one.token as never);
    one.apply(container);
  }
}

function overrideError(problems: readonly string[]): DionysusError {
  const n = problems.length;
  return new DionysusError(
    'plan',
    `${n} problem${n === 1 ? '' : 's'} in the test's overrides:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
}

function tokenName(token: Token): string {
  return typeof token === 'function'
    ? token.name
    : typeof token === 'symbol'
      ? token.toString()
      : JSON.stringify(token);
}
