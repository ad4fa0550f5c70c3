import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Provider, Token } from './inject.js';

/**
 * The one metadata record a class carries. Decorators write it through
 * `updateRecord`; only the planner (lib/plan) reads it.
 */
export type HookPhase = 'prerun' | 'postrun' | 'shutdown';
export type ProbeKind = 'startup' | 'liveness' | 'readiness';
export type ServerKind = 'http' | 'grpc' | 'ctl';

export interface HookOptions {
  /** Lower runs first; hooks with the same order keep declaration order. @default 0 */
  order?: number;
  /** Deadline for this hook; the app-wide default applies when omitted. */
  timeoutMs?: number;
}

export interface CheckOptions {
  /** Deadline for this check; the app-wide default applies when omitted. */
  timeoutMs?: number;
}

export interface MainOptions {
  /** The binary's name, shown in usage and used for the runtime directory. */
  name: string;
  /** The command classes, each decorated with `@Command`. */
  commands: Function[];
  /**
   * What the container binds for every command, each built once: a class,
   * `{ provide, useClass }`, `{ provide, useValue }` or
   * `{ provide, useFactory, inject? }`. A provider's `@PreRun`, `@PostRun`,
   * `@Shutdown` and checks run when a command builds it.
   */
  providers?: Provider[];
  /** Printed by `--version`; read from the app's package.json when omitted. */
  version?: string;
  /** One line shown at the top of `--help`. */
  description?: string;
  /** Tracing (on with the standard OTEL_* variables): what the app adds to the OpenTelemetry SDK. */
  telemetry?: TelemetryOptions;
}

export interface TelemetryOptions {
  /**
   * OpenTelemetry instrumentations registered with the SDK when tracing is on,
   * e.g. `new PgInstrumentation()`. They patch modules as they load, so they
   * work when the app runs from `node dist/…`, not from a bundle or the single
   * executable (no module loading to patch); the framework's own spans do.
   */
  instrumentations?: Instrumentation[];
}

export interface CommandOptions {
  description?: string;
  /** The server this command runs; defaults to the name when it is http, grpc or ctl. */
  server?: ServerKind;
  /**
   * http: `@Controller` classes whose routes the server serves: the classes,
   * or a function returning them (or a module exporting them as
   * `controllers`, or a promise of either) that is called only when this
   * command runs or `app openapi` documents it, so `--help`, other commands
   * and the probes never load the controllers' modules (nor their schema
   * library).
   * @example
   * @Command('http', { controllers: () => import('./controllers/index.js') })
   * @Command('http', { controllers: () => require('./controllers/index.js').controllers }) // CommonJS
   */
  controllers?: Function[] | LazyList<'controllers'>;
  /** http: koa middleware run before every route, after the framework's own. */
  middleware?: MiddlewareLike[];
  /**
   * grpc: `@GrpcService` classes the server serves, or a function returning
   * them (or a module exporting them as `services`, or a promise of either),
   * called only when this command runs.
   * @example
   * @Command('grpc', { services: () => import('./services/index.js') })
   */
  services?: Function[] | LazyList<'services'>;
  /** grpc: grpc-js server interceptors, run before the framework's own handling. */
  interceptors?: unknown[];
  /** Bound only when this command runs, next to `@Main`'s providers (a token bound in both is an error). */
  providers?: Provider[];
}

/**
 * Classes listed by a function, loaded when the command runs: what it
 * returns (or resolves to) is the classes, or a module exporting them
 * under `key` (`controllers` or `services`).
 */
export type LazyList<K extends string> = () =>
  | readonly Function[]
  | { readonly [key in K]: readonly Function[] }
  | Promise<readonly Function[] | { readonly [key in K]: readonly Function[] }>;

/** Every key of CommandOptions, for the planner to name one it does not know (a JavaScript app, a cast). */
export const COMMAND_OPTION_KEYS: readonly (keyof CommandOptions)[] = [
  'description',
  'server',
  'controllers',
  'middleware',
  'services',
  'interceptors',
];

export interface OptionOptions {
  description?: string;
  /** Usage errors name a missing required option; help marks it. @default false */
  required?: boolean;
  /**
   * The value's name in help, e.g. `--wait-ms MS`. Derived from the flag when
   * omitted: `--image` shows `--image IMAGE`. Not used by boolean options.
   * @example
   * @Option('--replicas', { valueName: 'N' }) replicas: number = 2;
   */
  valueName?: string;
  /** Inferred from the property type (string, boolean, number, string[]) when omitted. */
  type?: 'string' | 'boolean' | 'number' | 'array';
}

export interface HookRecord {
  phase: HookPhase;
  method: string;
  options: HookOptions;
}

export interface CheckRecord {
  probe: ProbeKind;
  method: string;
  name: string;
  options: CheckOptions;
}

export interface OptionRecord {
  property: string;
  flag: string;
  options: OptionOptions;
  designType: unknown;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A koa middleware, kept opaque here so decorators import nothing of koa. */
export type MiddlewareLike = (context: never, next: () => Promise<unknown>) => unknown;

export interface ControllerOptions {
  /** Run before every route of the controller, in order. */
  middleware?: MiddlewareLike[];
}

export interface RouteOptions {
  /** Run before this route's handler, after the controller's middleware. */
  middleware?: MiddlewareLike[];
  /** Status when the handler returns a value and sets none. @default 200 */
  status?: number;
  /** A Standard Schema (zod…) of the returned body: documented by `app openapi`. */
  response?: StandardSchemaV1;
}

export interface RouteRecord {
  method: HttpMethod;
  path: string;
  handler: string;
  options: RouteOptions;
}

/** Where a controller method's parameter comes from. */
export type ParamSource = 'path' | 'query' | 'header' | 'body' | 'ctx';

export interface ParamRecord {
  method: string;
  index: number;
  source: ParamSource;
  /** One path parameter, query parameter or header; all of them when undefined. */
  name: string | undefined;
  /** A Standard Schema (zod, valibot, arktype…), checked by the planner. */
  schema: unknown;
  /** The decorator's name, for messages. */
  decorator: string;
}

export type InjectionRecord = { index: number; token: Token } | { property: string | symbol; token: Token };

export interface ClassRecord {
  main?: MainOptions;
  controller?: { prefix: string; options: ControllerOptions };
  /** A ts-proto (grpc-js) service definition: method name → { path, requestStream, … }. */
  grpcService?: { definition: object };
  routes: RouteRecord[];
  /** Parameter decorators of route methods (@Param, @Query, @Headers, @Body, @Ctx). */
  params?: ParamRecord[];
  command?: { name: string; options: CommandOptions };
  runs: string[];
  hooks: HookRecord[];
  checks: CheckRecord[];
  options: OptionRecord[];
  /** `@Inject(token)` on constructor parameters (by index) and properties. */
  injections?: InjectionRecord[];
  /** `@Injectable()`: a plain class built through its constructor's parameter types. */
  injectable?: boolean;
  /** Misuses seen while decorating; the planner reports them with the rest. */
  problems: string[];
}

const RECORD = Symbol.for('dionysus.record');

type Recorded = { [RECORD]?: ClassRecord };

/** The only writer: creates the class's own record on first use. */
export function updateRecord(target: Function, update: (record: ClassRecord) => void): void {
  const holder = target as Recorded;
  if (!Object.hasOwn(holder, RECORD)) {
    Object.defineProperty(holder, RECORD, {
      value: { runs: [], hooks: [], checks: [], options: [], routes: [], problems: [] } satisfies ClassRecord,
      enumerable: false,
    });
  }
  update(holder[RECORD] as ClassRecord);
}

const declaredServerParts: Function[] = [];

/** Notes a class decorated with @Controller or @GrpcService, so the planner can name one no command lists. */
export function declareServerPart(target: Function): void {
  if (!declaredServerParts.includes(target)) declaredServerParts.push(target);
}

/** Every @Controller and @GrpcService class declared so far in this process, in declaration order. */
export function declaredServerClasses(): readonly Function[] {
  return declaredServerParts;
}

/** The class's own record (not its bases'), for the planner. */
export function readRecord(target: Function): ClassRecord | undefined {
  return Object.hasOwn(target, RECORD) ? (target as Recorded)[RECORD] : undefined;
}

/** Names a decorated member for messages: `Class.method`. */
export function memberName(target: object, key: string | symbol): string {
  const ctor = typeof target === 'function' ? target : target.constructor;
  return `${ctor.name}.${String(key)}`;
}

/**
 * Records a method-level decorator, or a problem when it sits on something
 * that is not an instance method.
 */
export function onMethod(
  decorator: string,
  target: object,
  key: string | symbol,
  descriptor: PropertyDescriptor | undefined,
  write: (record: ClassRecord, method: string) => void,
): void {
  const ctor = (typeof target === 'function' ? target : target.constructor) as Function;
  updateRecord(ctor, (record) => {
    if (typeof target === 'function') {
      record.problems.push(
        `${memberName(target, key)}: @${decorator} is on a static member; put it on an instance method.`,
      );
    } else if (typeof key === 'symbol') {
      record.problems.push(`${memberName(target, key)}: @${decorator} needs a method with a string name.`);
    } else if (!descriptor || typeof descriptor.value !== 'function') {
      record.problems.push(
        `${memberName(target, key)}: @${decorator} is on a property or accessor, not a method; decorate a method instead.`,
      );
    } else {
      write(record, key);
    }
  });
}
