import { ClassElementMetadataKind, getClassMetadata } from '@inversifyjs/core';
import { Container, decorate, injectable } from 'inversify';
import { DionysusError, messageOf } from '../errors.js';
import type { Class } from '../plan/types.js';

// inversify's own flag; read so that classes the user marked @injectable() are left as they are.
const INJECTABLE_FLAG = '@inversifyjs/core/classIsInjectableFlagReflectKey';

/** Types the container can never provide by type alone (what TypeScript emits for primitives and interfaces). */
const UNRESOLVABLE = new Set<unknown>([Object, String, Number, Boolean, Symbol, BigInt, Function, Array, Promise]);

/** Our decorators only write metadata; the container needs inversify's, added here once per class. */
export function makeInjectable(cls: Function): void {
  if (!Reflect.hasOwnMetadata(INJECTABLE_FLAG, cls)) decorate(injectable(), cls as never);
}

/**
 * What keeps the container from building these classes, found without
 * constructing anything: parameters it cannot resolve, cycles.
 */
export function constructionProblems(roots: readonly Function[]): string[] {
  const problems: string[] = [];
  const done = new Set<Function>();
  const walk = (cls: Function, path: Function[]): void => {
    if (path.includes(cls)) {
      const cycle = [...path.slice(path.indexOf(cls)), cls].map((c) => c.name).join(' -> ');
      problems.push(
        `${cls.name}: circular constructor dependency ${cycle}; break it with a provider method or a lazy @inject.`,
      );
      return;
    }
    if (done.has(cls)) return;
    done.add(cls);
    let args: ReturnType<typeof getClassMetadata>['constructorArguments'];
    try {
      makeInjectable(cls);
      args = getClassMetadata(cls as never).constructorArguments;
    } catch (error) {
      problems.push(
        `${cls.name}: the container cannot construct it (${firstLine(messageOf(error))}); give every constructor parameter a class type or @inject(TOKEN).`,
      );
      return;
    }
    args.forEach((arg, index) => {
      if (arg === undefined || arg.kind === ClassElementMetadataKind.unmanaged) return;
      const id = arg.value;
      if (typeof id !== 'function') return; // a token (or lazy id): bound by the app's modules
      if (UNRESOLVABLE.has(id)) {
        if (arg.optional) return;
        problems.push(
          `${cls.name}: constructor parameter #${index + 1} has type ${id.name}, which the container cannot provide by type; inject a class, or add @inject(TOKEN) and bind TOKEN.`,
        );
        return;
      }
      walk(id, [...path, cls]);
    });
  };
  for (const root of roots) walk(root, []);
  return problems;
}

/** A container with the app's classes bound as singletons; unlisted classes bind themselves on first use. */
export function createAppContainer(classes: readonly Function[]): Container {
  const container = new Container({ autobind: true, defaultScope: 'Singleton' });
  for (const cls of classes) {
    makeInjectable(cls);
    if (!container.isBound(cls as never)) container.bind(cls as never).toSelf();
  }
  return container;
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

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
