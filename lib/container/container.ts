import { ClassElementMetadataKind, getClassMetadata } from '@inversifyjs/core';
import { Container, decorate, injectable, type ServiceIdentifier } from 'inversify';
import { DionysusError, messageOf } from '../errors.js';
import type { Class } from '../plan/types.js';

// inversify's own flag; read so that classes the user marked @injectable() are left as they are.
const INJECTABLE_FLAG = '@inversifyjs/core/classIsInjectableFlagReflectKey';
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

function isRuntimeBound(cls: Function): boolean {
  const proto = cls.prototype as Record<string, unknown> | undefined;
  return !!proto && RUNTIME_BOUND.some((methods) => methods.every((m) => typeof proto[m] === 'function'));
}

/** Our decorators only write metadata; the container needs inversify's, added here once per class. */
export function makeInjectable(cls: Function): void {
  if (!Reflect.hasOwnMetadata(INJECTABLE_FLAG, cls)) decorate(injectable(), cls as never);
}

/**
 * Walks the constructor dependencies of the roots without constructing
 * anything: every class reached (to bind), and what keeps the container from
 * building them (parameters it cannot resolve, cycles).
 */
export function inspectClasses(
  roots: readonly Function[],
  { metadataEmitted }: { metadataEmitted?: boolean } = {},
): { classes: Function[]; problems: string[] } {
  const problems: string[] = [];
  /** Classes whose constructor takes parameters TypeScript emitted no types for. */
  const untyped: Function[] = [];
  const done = new Set<Function>();
  const walk = (cls: Function, path: Function[]): void => {
    if (path.includes(cls)) {
      const cycle = [...path.slice(path.indexOf(cls)), cls].map((c) => c.name).join(' -> ');
      problems.push(
        `${cls.name}: circular constructor dependency ${cycle}; break it with a provider method or a lazy @inject.`,
      );
      return;
    }
    if (done.has(cls) || isRuntimeBound(cls)) return;
    done.add(cls);
    let args: ReturnType<typeof getClassMetadata>['constructorArguments'];
    try {
      makeInjectable(cls);
      args = getClassMetadata(cls as never).constructorArguments;
    } catch (error) {
      const types: unknown[] | undefined = Reflect.getOwnMetadata('design:paramtypes', cls);
      if (!types) {
        if (cls.length > 0) untyped.push(cls);
        return;
      }
      const named = unprovidedParameters(cls, types);
      problems.push(
        ...(named.length > 0
          ? named
          : [
              `${cls.name}: the container cannot construct it (${firstLine(messageOf(error))}); give every constructor parameter a class type or @inject(TOKEN).`,
            ]),
      );
      // The parameters it could read are classes to build too: report their problems now, not after this fix.
      for (const type of types) {
        if (typeof type === 'function' && !UNRESOLVABLE.has(type)) walk(type, [...path, cls]);
      }
      return;
    }
    args.forEach((arg, index) => {
      if (arg === undefined || arg.kind === ClassElementMetadataKind.unmanaged) return;
      const id = arg.value;
      if (typeof id !== 'function') return; // a token (or lazy id): bound by the app's modules
      if (UNRESOLVABLE.has(id)) {
        if (!arg.optional) problems.push(untypedParameter(cls, index, id));
        return;
      }
      walk(id, [...path, cls]);
    });
  };
  for (const root of roots) walk(root, []);
  if (untyped.length > 0 && metadataEmitted === false) {
    const names = untyped.map((c) => c.name).join(', ');
    problems.push(
      `${names}: the constructor parameters have no type metadata, and neither has any decorated member of the app: the compiler emitted none. Set "experimentalDecorators": true and "emitDecoratorMetadata": true in the compilerOptions of tsconfig.json, and compile with tsc (tsx and esbuild drop the metadata).`,
    );
  } else {
    for (const cls of untyped) {
      problems.push(
        `${cls.name}: its constructor takes parameters but has no type metadata (TypeScript emits it only for decorated classes); decorate the class, e.g. with @injectable() from inversify.`,
      );
    }
  }
  return { classes: [...done], problems };
}

/**
 * A container with the app's classes bound as singletons: Main, commands,
 * providers and every class their constructors reach.
 */
export function createAppContainer(classes: readonly Function[]): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  for (const cls of classes) {
    makeInjectable(cls);
    if (!container.isBound(cls as never)) container.bind(cls as never).toSelf();
  }
  return container;
}

/** Binds (or rebinds) a constant, so a container can serve several runs. */
export function bindConstant<T>(container: Container, id: ServiceIdentifier<T>, value: T): void {
  if (container.isBound(id)) container.unbind(id);
  container.bind(id).toConstantValue(value);
}

/** Resolves a class, naming it when the container cannot. */
export async function resolveClass<T>(container: Container, cls: Class<T>): Promise<T> {
  try {
    return (await container.getAsync(cls)) as T;
  } catch (error) {
    throw new DionysusError('plan', `cannot build ${cls.name} from the container: ${messageOf(error)}`, {
      cause: error,
    });
  }
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
