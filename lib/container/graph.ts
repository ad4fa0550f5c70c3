import { ClassElementMetadataKind, getClassMetadata } from '@inversifyjs/core';
import { decorate, inject, unmanaged } from 'inversify';
import type { Token } from '../../decorators/inject.js';
import type { InjectionRecord } from '../../decorators/metadata.js';
import { messageOf } from '../errors.js';
import { Health } from '../health/health.js';
import { LifecycleEvents } from '../lifecycle/events.js';
import { tokenName } from '../plan/providers.js';
import type { BuildPlan, ProviderPlan } from '../plan/types.js';
import { makeInjectable } from './container.js';

// inversify's per-class record, read to tell which constructor parameters it has nothing for.
const CLASS_METADATA = '@inversifyjs/core/classMetadataReflectKey';

/** Types the container can never provide by type alone (what TypeScript emits for primitives and interfaces). */
const UNRESOLVABLE = new Set<unknown>([Object, String, Number, Boolean, Symbol, BigInt, Function, Array, Promise]);

/**
 * Library classes a framework step binds at run time (the http step binds the koa app and its
 * router), so constructors may ask for them by type: the planner neither walks nor binds them.
 * Koa's constructor takes options without type metadata, so walking it would be a false plan error.
 * Recognised by shape, not by module: a bundle has no module cache to compare with, and a task
 * must not load koa to find out.
 */
const RUNTIME_BOUND: readonly (readonly string[])[] = [
  ['use', 'callback', 'createContext', 'listen'], // koa's Application
  ['routes', 'allowedMethods', 'register', 'middleware'], // @koa/router's Router
];

/** Framework objects every run binds before PreRun; constructors may ask for them by type. */
const FRAMEWORK_BOUND = new Set<unknown>([Health, LifecycleEvents]);

function isRuntimeBound(cls: Function): boolean {
  if (FRAMEWORK_BOUND.has(cls)) return true;
  const proto = cls.prototype as Record<string, unknown> | undefined;
  return !!proto && RUNTIME_BOUND.some((methods) => methods.every((m) => typeof proto[m] === 'function'));
}

/** Tokens the framework binds during a run: the config keys of `@InjectConfig` (`dionysus.config:<key>`). */
export function isFrameworkToken(token: Token): boolean {
  return typeof token === 'symbol' && (Symbol.keyFor(token)?.startsWith('dionysus.') ?? false);
}

export interface GraphInput {
  /** Walked in order: what is declared first is built first among independent ones. */
  readonly roots: readonly Token[];
  /** The providers in scope, by token. */
  readonly bindings: ReadonlyMap<Token, ProviderPlan>;
  /** A class's `@Inject` records, written to inversify's metadata before it is read. */
  readonly injectionsOf: (cls: Function) => readonly InjectionRecord[];
  /** Tokens bound outside the providers (a test's override). */
  readonly isBound?: (token: Token) => boolean;
}

export interface Graph {
  /** Deps first (a depth-first post-order from the roots). */
  readonly builds: BuildPlan[];
  /** Classes bound to themselves: reached through constructors, or listed without a provider. */
  readonly classes: Function[];
  readonly problems: string[];
  /** Classes whose constructor takes parameters TypeScript emitted no types for. */
  readonly untyped: Function[];
  /** A string or symbol token nothing binds, with who asks for it. */
  readonly unbound: { readonly asker: string; readonly token: Token }[];
}

/**
 * Walks what the roots need without constructing anything: every build in
 * dependency order, and what keeps the container from building them
 * (parameters it cannot resolve, unbound tokens, cycles).
 */
export function walkGraph({ roots, bindings, injectionsOf, isBound = () => false }: GraphInput): Graph {
  const graph: Graph = { builds: [], classes: [], problems: [], untyped: [], unbound: [] };
  const done = new Set<Token>();
  const problem = (text: string): void => {
    if (!graph.problems.includes(text)) graph.problems.push(text);
  };

  /** Visits `token` on behalf of `asker`; returns whether it is a build (so a dependency to order by). */
  const visit = (token: Token, path: readonly Token[], asker: string | undefined): boolean => {
    if (path.includes(token)) {
      const cycle = [...path.slice(path.indexOf(token)), token];
      const names = cycle.map(tokenName).join(' -> ');
      problem(
        cycle.every((t) => typeof t === 'function' && !bindings.has(t))
          ? `${tokenName(token)}: circular constructor dependency ${names}; break it with a provider method or a lazy @inject.`
          : `${tokenName(token)}: circular dependency ${names}; nothing in it can be built first, move what they share into a provider of its own.`,
      );
      return true;
    }
    const provider = bindings.get(token);
    if (!provider) {
      if (typeof token !== 'function') {
        if (!isFrameworkToken(token) && !isBound(token) && asker) graph.unbound.push({ asker, token });
        return false;
      }
      if (isRuntimeBound(token)) return false;
      if (UNRESOLVABLE.has(token)) return false;
    }
    if (done.has(token)) return true;
    done.add(token);
    const here = [...path, token];
    const deps: Token[] = [];
    const runtime: Function[] = [];
    const need = (dep: Token, by: string): void => {
      if (visit(dep, here, by)) {
        if (!deps.includes(dep)) deps.push(dep);
      } else if (typeof dep === 'function' && isRuntimeBound(dep) && !runtime.includes(dep)) runtime.push(dep);
    };
    if (!provider) {
      graph.classes.push(token as Function);
      walkClass(token as Function, need);
    } else if (provider.kind === 'factory') {
      provider.inject.forEach((dep, index) => {
        need(dep, `${provider.where} (token ${tokenName(provider.token)}): inject[${index}]`);
      });
    } else if (provider.kind === 'class' && provider.useClass) {
      if (provider.useClass === token) {
        graph.classes.push(token as Function);
        walkClass(token as Function, need);
      } else {
        need(provider.useClass, `${provider.where} (token ${tokenName(provider.token)}): useClass`);
      }
    }
    graph.builds.push({ token, provider, deps, runtime });
    return true;
  };

  const walkClass = (cls: Function, need: (dep: Token, by: string) => void): void => {
    let metadata: ReturnType<typeof getClassMetadata>;
    try {
      declareInjections(cls, injectionsOf(cls));
      makeInjectable(cls);
      metadata = getClassMetadata(cls as never);
    } catch (error) {
      const types: unknown[] | undefined = Reflect.getOwnMetadata('design:paramtypes', cls);
      if (!types) {
        if (cls.length > 0) graph.untyped.push(cls);
        return;
      }
      const named = unprovidedParameters(cls, types);
      for (const text of named.length > 0
        ? named
        : [
            `${cls.name}: the container cannot construct it (${firstLine(messageOf(error))}); give every constructor parameter a class type or @inject(TOKEN).`,
          ]) {
        problem(text);
      }
      // The parameters it could read are classes to build too: report their problems now, not after this fix.
      types.forEach((type, index) => {
        if (typeof type === 'function' && !UNRESOLVABLE.has(type)) need(type as Token, parameter(cls, index));
      });
      return;
    }
    metadata.constructorArguments.forEach((arg, index) => {
      if (arg === undefined || arg.kind === ClassElementMetadataKind.unmanaged) return;
      const id = arg.value;
      if (typeof id === 'function' && UNRESOLVABLE.has(id)) {
        if (!arg.optional) problem(untypedParameter(cls, index, id));
        return;
      }
      if (isTokenValue(id) && !(arg.optional && typeof id !== 'function' && !bindings.has(id))) {
        need(id, parameter(cls, index));
      }
    });
    for (const [property, arg] of metadata.properties) {
      if (arg.kind === ClassElementMetadataKind.unmanaged || !isTokenValue(arg.value)) continue;
      if (arg.optional && typeof arg.value !== 'function' && !bindings.has(arg.value)) continue;
      need(arg.value, `${cls.name}.${String(property)}`);
    }
  };

  for (const root of roots) visit(root, [], undefined);
  return graph;
}

/** The problems of the classes whose constructors have no parameter types, found over all walks. */
export function untypedProblems(untyped: readonly Function[], metadataEmitted: boolean | undefined): string[] {
  if (untyped.length === 0) return [];
  if (metadataEmitted === false) {
    const names = untyped.map((c) => c.name).join(', ');
    return [
      `${names}: the constructor parameters have no type metadata, and neither has any decorated member of the app: the compiler emitted none. Set "experimentalDecorators": true and "emitDecoratorMetadata": true in the compilerOptions of tsconfig.json, and compile with tsc (tsx and esbuild drop the metadata).`,
    ];
  }
  return untyped.map(
    (cls) =>
      `${cls.name}: its constructor takes parameters but has no type metadata (TypeScript emits it only for decorated classes); decorate the class with @Injectable() from dionysus (or @Inject(token) on each parameter).`,
  );
}

const declared = new WeakSet<Function>();

/** Writes a class's `@Inject` records into inversify's metadata, once. */
export function declareInjections(cls: Function, injections: readonly InjectionRecord[]): void {
  if (declared.has(cls)) return;
  declared.add(cls);
  for (const injection of injections) {
    // A token that is no token was reported by @Inject itself: the parameter is left out of the graph.
    const decorator = (isTokenValue(injection.token) ? inject(injection.token as never) : unmanaged()) as (
      target: object,
      key?: string | symbol,
      index?: number,
    ) => void;
    if ('index' in injection) decorate(decorator as ParameterDecorator, cls, injection.index);
    else decorate(decorator as PropertyDecorator, cls, injection.property);
  }
}

function isTokenValue(id: unknown): id is Token {
  // Anything else is inversify's LazyServiceIdentifier: resolved when built, not walked.
  return typeof id === 'function' || typeof id === 'string' || typeof id === 'symbol';
}

function parameter(cls: Function, index: number): string {
  return `${cls.name}: constructor parameter #${index + 1}`;
}

function untypedParameter(cls: Function, index: number, type: unknown): string {
  const name = typeof type === 'function' ? type.name : String(type);
  return `${cls.name}: constructor parameter #${index + 1} has type ${name}, which the container cannot provide by type; inject a class, or add @inject(TOKEN) and bind TOKEN.`;
}

/**
 * Names the parameters inversify refused. It drops primitive and interface
 * types (String, Object…) from its metadata and then reports only an argument
 * count, so the parameter and its type are read from what TypeScript emitted.
 */
function unprovidedParameters(cls: Function, types: readonly unknown[]): string[] {
  const known: readonly unknown[] = Reflect.getOwnMetadata(CLASS_METADATA, cls)?.constructorArguments ?? [];
  const problems: string[] = [];
  for (let index = 0; index < Math.max(cls.length, known.length); index++) {
    if (known[index] === undefined) problems.push(untypedParameter(cls, index, types[index]));
  }
  return problems;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
