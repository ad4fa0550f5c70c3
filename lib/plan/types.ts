import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Resource, Token } from '../../decorators/inject.js';
import type {
  CheckOptions,
  CommandOptions,
  HookPhase,
  HttpMethod,
  MiddlewareLike,
  ParamSource,
  ProbeKind,
  ServerKind,
} from '../../decorators/metadata.js';

export type {
  AbstractClass,
  ClassProvider,
  FactoryProvider,
  Provider,
  Resource,
  ResourceCheck,
  Token,
  ValueProvider,
} from '../../decorators/inject.js';
export type { HookPhase, HttpMethod, MiddlewareLike, ProbeKind, ServerKind };

/** A class the container can build. */
// biome-ignore lint/suspicious/noExplicitAny: constructor parameters are whatever the user's classes take
export type Class<T = unknown> = new (...args: any[]) => T;

export interface HookPlan {
  readonly phase: HookPhase;
  readonly owner: Class;
  readonly method: string;
  /** `Class.method`, the name every message uses. */
  readonly name: string;
  readonly order: number;
  /** Undefined: the app-wide default applies. */
  readonly timeoutMs: number | undefined;
}

export interface CheckPlan {
  readonly probe: ProbeKind;
  readonly owner: Class;
  readonly method: string;
  readonly name: string;
  readonly timeoutMs: number | undefined;
}

export type OptionType = 'string' | 'boolean' | 'number' | 'array';

export interface OptionPlan {
  readonly property: string;
  /** As written, e.g. `--name` or `-n,--name`; a positional argument's name, e.g. `NAME`. */
  readonly flag: string;
  /** An argument given by position (`app migrate create NAME`), not by flag. */
  readonly positional: boolean;
  readonly type: OptionType;
  readonly required: boolean;
  readonly description: string | undefined;
  /** The value's name in help (`--image IMAGE`); undefined: derived from the flag. */
  readonly valueName: string | undefined;
}

export interface RoutePlan {
  readonly method: HttpMethod;
  /** Prefix and path joined: the route template used in metrics and logs. */
  readonly path: string;
  readonly handler: string;
  /** `Class.method` */
  readonly name: string;
  readonly middleware: readonly MiddlewareLike[];
  readonly status: number | undefined;
  /** The handler's arguments in order, when it has parameter decorators; else it gets `(ctx)`. */
  readonly params: readonly ParamPlan[];
  /** The schema of the returned body, for the OpenAPI document. */
  readonly response: StandardSchemaV1 | undefined;
}

export interface ParamPlan {
  readonly source: ParamSource;
  readonly name: string | undefined;
  readonly schema: StandardSchemaV1 | undefined;
}

export interface ControllerPlan {
  readonly cls: Class;
  readonly prefix: string;
  readonly middleware: readonly MiddlewareLike[];
  readonly routes: readonly RoutePlan[];
}

/** A `controllers` or `services` list given as a function, called when the command runs. */
export interface LazyListPlan {
  readonly kind: 'controllers' | 'services';
  readonly load: () => unknown;
}

export interface GrpcMethodPlan {
  /** The implementation's method name (ts-proto's lowerCamelCase). */
  readonly name: string;
  /** `/package.Service/Method` */
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

export interface GrpcServicePlan {
  readonly cls: Class;
  /** Full service name, e.g. `helloworld.Greeter`. */
  readonly service: string;
  /** The ts-proto service definition, handed to grpc-js as is. */
  readonly definition: Readonly<Record<string, unknown>>;
  readonly methods: readonly GrpcMethodPlan[];
}

export interface HookSet {
  readonly prerun: readonly HookPlan[];
  readonly postrun: readonly HookPlan[];
  readonly shutdown: readonly HookPlan[];
}

/** One entry of a `providers` list, checked and read. */
export interface ProviderPlan {
  readonly token: Token;
  /** class: `Class` or `{ provide, useClass }`; value: `{ provide, useValue }`; factory: `{ provide, useFactory }`. */
  readonly kind: 'class' | 'value' | 'factory';
  readonly useClass: Class | undefined;
  readonly useValue: unknown;
  // biome-ignore lint/suspicious/noExplicitAny: the factory's parameters are the resolved `inject` tokens
  readonly useFactory: ((...deps: any[]) => unknown) | undefined;
  /** The factory's parameters, in order. */
  readonly inject: readonly Token[];
  /** A factory's `component`: what owns the value it made, as a lifecycle part. */
  readonly component: ((value: unknown) => Resource) | undefined;
  /** Task commands the provider brings (@Main's providers only). */
  readonly commands: readonly Class[];
  /** Where it was declared, e.g. `@Main(App) providers[2]`. */
  readonly where: string;
}

/** Something a command's container builds: a provider, or a class a constructor reached (bound to itself). */
export interface BuildPlan {
  readonly token: Token;
  /** Undefined for a class bound to itself because a constructor (or a listing) reached it. */
  readonly provider: ProviderPlan | undefined;
  /** The tokens of other builds it needs (constructor parameters, properties, a factory's inject, a useClass). */
  readonly deps: readonly Token[];
  /** What it takes that a run binds rather than builds (koa's app, the router, Health…). */
  readonly runtime?: readonly Function[];
}

export interface CommandPlan {
  readonly name: string;
  readonly description: string | undefined;
  /** Undefined for a task. */
  readonly server: ServerKind | undefined;
  readonly cls: Class;
  /** The `@Run` method (tasks and ctl). */
  readonly run: string | undefined;
  readonly hooks: HookSet;
  readonly options: readonly OptionPlan[];
  readonly checks: readonly CheckPlan[];
  /** http: controllers in the order listed. */
  readonly controllers: readonly ControllerPlan[];
  /** http: command-level middleware. */
  readonly middleware: readonly MiddlewareLike[];
  /** grpc: services in the order listed. */
  readonly services: readonly GrpcServicePlan[];
  /**
   * `controllers` or `services` listed by a function whose classes are not
   * loaded yet: `controllers` and `services` lack them until a run loads
   * them (`withLazyLists`). Empty once loaded, or for lists given as arrays.
   */
  readonly lazy: readonly LazyListPlan[];
  /** The full `@Command` options but providers, for the servers' own keys (grpc: interceptors). */
  readonly extra: Readonly<CommandOptions>;
  /** This command's own providers, bound only when it runs. */
  readonly bindings: readonly ProviderPlan[];
  /**
   * Where the provider that brought it was declared (a database's `migrate up`); such a
   * command builds only what it and Main reach, not every @Main provider.
   */
  readonly broughtBy?: string | undefined;
  /**
   * Everything a run of this command builds, each after what it needs: @Main's
   * and the command's providers, the command's controllers or services, what
   * their constructors reach, then Main and the command.
   */
  readonly builds: readonly BuildPlan[];
}

export interface AppPlan {
  readonly name: string;
  readonly version: string | undefined;
  readonly description: string | undefined;
  readonly main: Class;
  readonly hooks: HookSet;
  readonly checks: readonly CheckPlan[];
  readonly commands: ReadonlyMap<string, CommandPlan>;
  /** The classes `@Main` providers build (`Class` and `useClass` providers). */
  readonly providers: readonly Class[];
  /** `@Main`'s providers, bound for every command. */
  readonly bindings: readonly ProviderPlan[];
  /** Lifecycle hooks of the classes other than Main and the commands (providers, controllers, what they reach). */
  readonly classHooks: ReadonlyMap<Class, HookSet>;
  /** Every class the container binds to itself: Main, commands, class providers and what constructors reach. */
  readonly classes: readonly Class[];
  /** Checks declared on provider classes, by class, for when the container builds them. */
  readonly providerChecks: ReadonlyMap<Class, readonly CheckPlan[]>;
  /** Likely mistakes that do not stop the app, e.g. a @Controller no command lists; printed at start. */
  readonly warnings: readonly string[];
}

export type { CheckOptions, CommandOptions };
