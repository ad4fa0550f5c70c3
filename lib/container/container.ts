import { Container, decorate, injectable, type ServiceIdentifier } from 'inversify';
import { DionysusError, messageOf } from '../errors.js';
import { providerLabel } from '../plan/providers.js';
import type { AppPlan, Class, CommandPlan, ProviderPlan, Resource } from '../plan/types.js';

// inversify's own flag; read so that classes the user marked @injectable() are left as they are.
const INJECTABLE_FLAG = '@inversifyjs/core/classIsInjectableFlagReflectKey';

/** Our decorators only write metadata; the container needs inversify's, added here once per class. */
export function makeInjectable(cls: Function): void {
  if (!Reflect.hasOwnMetadata(INJECTABLE_FLAG, cls)) decorate(injectable(), cls as never);
}

type Built = (instance: unknown) => void;
const builtListeners = new WeakMap<Container, Built[]>();
/** The Resource owning each value a factory with a `component` made, found once when it was built. */
const resources = new WeakMap<object, Resource>();

/** The lifecycle part that owns a value the container built (a factory provider's `component`), if any. */
export function resourceOf(value: unknown): Resource | undefined {
  return value !== null && (typeof value === 'object' || typeof value === 'function')
    ? resources.get(value)
    : undefined;
}

/**
 * A container with the app's bindings as singletons: every class bound to
 * itself, @Main's providers, and the command's own providers. Without a
 * command (a test container) every command's providers are bound, a token
 * several commands bind once per command, for that command's graph.
 */
export function createAppContainer(plan: AppPlan, command?: CommandPlan): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  const listeners: Built[] = [];
  builtListeners.set(container, listeners);
  const built = (_context: unknown, instance: unknown, provider?: ProviderPlan): unknown => {
    if (provider?.component) own(provider, instance);
    for (const listener of listeners) listener(instance);
    return instance;
  };
  const scoped = command
    ? [{ owner: command.cls, bindings: command.bindings }]
    : [...plan.commands.values()].map((c) => ({ owner: c.cls, bindings: c.bindings }));
  // A token is shared when different providers bind it; one provider object on several commands (a
  // database declared on one command and the migrate commands it brings) is bound once, for all of them.
  const provided = new Map<unknown, ProviderPlan>(plan.bindings.map((b) => [b.token, b]));
  const shared = new Set<unknown>();
  for (const { bindings } of scoped) {
    for (const binding of bindings) {
      const first = provided.get(binding.token);
      if (!first) provided.set(binding.token, binding);
      else if (first !== binding) shared.add(binding.token);
    }
  }
  for (const cls of plan.classes) {
    makeInjectable(cls);
    if (!provided.has(cls) && !container.isBound(cls as never))
      container
        .bind(cls as never)
        .toSelf()
        .onActivation(built);
  }
  for (const provider of plan.bindings) bindProvider(container, provider, built);
  const bound = new Set<ProviderPlan>();
  for (const { owner, bindings } of scoped) {
    for (const provider of bindings) {
      if (shared.has(provider.token)) bindProvider(container, provider, built, owner);
      else if (!bound.has(provider)) {
        bound.add(provider);
        bindProvider(container, provider, built);
      }
    }
  }
  return container;
}

/** Calls `listener` with every instance the container builds from the app's bindings (not framework objects). */
export function onBuilt(container: Container, listener: (instance: unknown) => void): void {
  builtListeners.get(container)?.push(listener);
}

/** Asks a factory's `component` for the Resource owning what it made, once; a bad answer names the provider. */
function own(provider: ProviderPlan, value: unknown): void {
  if (resourceOf(value)) return;
  const label = providerLabel(provider);
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    throw new DionysusError('plan', `${label}: has a component but its factory made ${String(value)}, not an object.`);
  }
  const resource = (provider.component as (value: unknown) => Resource)(value);
  if (!resource || typeof resource !== 'object' || typeof resource.label !== 'string' || resource.label === '') {
    throw new DionysusError(
      'plan',
      `${label}: component returned ${resource === null ? 'null' : typeof resource}, not a Resource with a label.`,
    );
  }
  resources.set(value, resource);
}

function bindProvider(
  container: Container,
  provider: ProviderPlan,
  built: (context: never, instance: unknown, provider?: ProviderPlan) => unknown,
  onlyFor?: Class,
): void {
  const activate = (context: never, instance: unknown): unknown => built(context, instance, provider);
  const bind = container.bind(provider.token as never);
  const { useClass, useFactory } = provider;
  let syntax:
    | ReturnType<ReturnType<Container['bind']>['toSelf']>
    | ReturnType<ReturnType<Container['bind']>['toConstantValue']>;
  if (provider.kind === 'value') {
    syntax = bind.toConstantValue(provider.useValue as never);
  } else if (provider.kind === 'factory' && useFactory) {
    syntax = bind.toResolvedValue(useFactory as never, provider.inject as never);
  } else if (useClass === provider.token) {
    makeInjectable(useClass as Class);
    syntax = bind.toSelf();
  } else if (!onlyFor) {
    // One instance, whether asked for by the token or by the class itself.
    bind.toService(useClass as never);
    return;
  } else {
    makeInjectable(useClass as Class);
    syntax = bind.to(useClass as never);
  }
  if (onlyFor) syntax.whenAnyAncestorIs(onlyFor as never).onActivation(activate as never);
  else syntax.onActivation(activate as never);
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
