import { memberName, updateRecord } from './metadata.js';

/**
 * A class the container builds, or an abstract class used only as a token
 * (bound by a provider, never instantiated itself).
 */
// biome-ignore lint/suspicious/noExplicitAny: constructor parameters are whatever the user's classes take
export type AbstractClass<T = unknown> = abstract new (...args: any[]) => T;

/** A class the container can construct. */
// biome-ignore lint/suspicious/noExplicitAny: constructor parameters are whatever the user's classes take
export type ConcreteClass<T = unknown> = new (...args: any[]) => T;

/** What a constructor parameter, a property or a factory asks the container for: a class, a string or a symbol. */
export type Token<T = unknown> = AbstractClass<T> | string | symbol;

/** Binds `provide` to a class the container builds (one instance, shared with whoever injects the class itself). */
export interface ClassProvider<T = unknown> {
  provide: Token<T>;
  useClass: ConcreteClass<T>;
}

/** Binds `provide` to a value made elsewhere: a config-derived object, an SDK client. */
export interface ValueProvider<T = unknown> {
  provide: Token<T>;
  useValue: T;
}

/**
 * Binds `provide` to what the factory returns, called once with the tokens of
 * `inject` resolved. An async factory resolves before the first PreRun hook,
 * under the hook deadline (`dionysus.hooks.timeoutMs`).
 * @example
 * { provide: PG_POOL, useFactory: async (config: AppConfig) => connect(config.get('db.url')), inject: [AppConfig] }
 */
export interface FactoryProvider<T = unknown> {
  provide: Token<T>;
  // biome-ignore lint/suspicious/noExplicitAny: the factory's parameters are the resolved `inject` tokens
  useFactory: (...deps: any[]) => T | Promise<T>;
  /** The tokens passed to the factory, in order. @default [] */
  inject?: readonly Token[];
  /**
   * What owns the value the factory made: the lifecycle starts, drains and
   * stops it, and its checks join the probes, when the running command
   * builds the value (see `Resource`).
   * @example
   * { provide: PG_POOL, useFactory: () => new Pool(), component: (pool) => ({ label: 'pg', stop: () => pool.end() }) }
   */
  component?(value: T): Resource;
  /**
   * Task commands that come with the provider (`migrate up` with a database),
   * added to the app's commands as if `@Main({ commands })` listed them. @Main's providers only.
   */
  commands?: readonly ConcreteClass[];
}

/** A check a `Resource` adds to a probe: it throws (or rejects) when unhealthy. */
export interface ResourceCheck {
  readonly probe: 'startup' | 'liveness' | 'readiness';
  readonly name: string;
  /** Undefined: `dionysus.health.checkTimeoutMs`. */
  readonly timeoutMs?: number | undefined;
  run(): unknown;
}

/**
 * The lifecycle part owning a value a factory provider made (a database pool,
 * a client, a task pool). It runs like its provider's own hooks: `start`
 * before the PreRun hooks of every class that depends on it, `stop` after
 * their PostRun hooks, in exactly the reverse order; `drain` after the
 * servers drained on a stop signal, before any Shutdown hook. Each call gets
 * an AbortSignal that fires at its deadline (the hook deadline, and the
 * shutdown budget after a signal); `stop` runs only when `start` succeeded.
 */
export interface Resource {
  /** How events, logs and errors name its calls, e.g. `sql:main`. */
  readonly label: string;
  /** Among parts that do not depend on one another, the lower starts first and stops last, as a hook's `order`. @default 0 */
  readonly order?: number;
  start?(deadline: AbortSignal): unknown;
  drain?(deadline: AbortSignal): unknown;
  stop?(deadline: AbortSignal): unknown;
  /** Registered when the value is built, read by every probe transport. */
  checks?(): readonly ResourceCheck[];
}

/** What `@Main({ providers })` and `@Command(name, { providers })` take. */
export type Provider<T = unknown> = ConcreteClass<T> | ClassProvider<T> | ValueProvider<T> | FactoryProvider<T>;

/** Works on a constructor parameter and on an instance property. */
export type InjectDecorator = ParameterDecorator & PropertyDecorator;

/**
 * Injects what `token` is bound to: a string or symbol token, or a class
 * other than the parameter's declared type (an interface has none at run time).
 * @example
 * constructor(@Inject(PG_POOL) private readonly pool: Pool) {}
 * @Inject('CLOCK_SKEW_MS') private readonly skewMs!: number;
 */
export function Inject(token: Token): InjectDecorator {
  return ((target: object, key: string | symbol | undefined, index?: number): void => {
    const ctor = (typeof target === 'function' ? target : target.constructor) as Function;
    updateRecord(ctor, (record) => {
      const where =
        index === undefined ? memberName(target, key ?? '') : `${ctor.name}: constructor parameter #${index + 1}`;
      if (!isToken(token)) {
        record.problems.push(
          `${where}: @Inject(${String(token)}) is not a class, a string or a symbol; an undefined class is usually a circular import, use a string or symbol token instead.`,
        );
        // Kept, so the parameter is not reported a second time for its declared type.
        if (index !== undefined && key === undefined) (record.injections ??= []).push({ index, token });
      } else if (index !== undefined && key === undefined) {
        (record.injections ??= []).push({ index, token });
      } else if (index === undefined && key !== undefined && typeof target !== 'function') {
        (record.injections ??= []).push({ property: key, token });
      } else {
        record.problems.push(
          `${memberName(target, key ?? '')}: @Inject is on a method parameter or a static member; use it on a constructor parameter or an instance property.`,
        );
      }
    });
  }) as InjectDecorator;
}

/**
 * Marks a plain class the container builds through its constructor's
 * parameter types (TypeScript emits them only for decorated classes).
 * Classes with a dionysus decorator need no mark.
 * @example
 * @Injectable()
 * export class Orders { constructor(private readonly db: Database) {} }
 */
export function Injectable(): ClassDecorator {
  return (target) => updateRecord(target, (record) => void (record.injectable = true));
}

function isToken(token: unknown): token is Token {
  return typeof token === 'function' || typeof token === 'string' || typeof token === 'symbol';
}
