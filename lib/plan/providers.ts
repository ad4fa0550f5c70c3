import type { Token } from '../../decorators/inject.js';
import type { Class, ProviderPlan } from './types.js';

const PROVIDER_KEYS = ['provide', 'useClass', 'useValue', 'useFactory', 'inject', 'component', 'commands'];
const USE_KEYS = ['useClass', 'useValue', 'useFactory'] as const;

/** A token as messages show it: a class by name, a string quoted, a symbol as `Symbol(description)`. */
export function tokenName(token: unknown): string {
  if (typeof token === 'function') return token.name || 'an anonymous class';
  if (typeof token === 'string') return `'${token}'`;
  return String(token);
}

export function isToken(value: unknown): value is Token {
  return typeof value === 'function' || typeof value === 'string' || typeof value === 'symbol';
}

/** `@Main(App) providers[2] (token 'PG_POOL')`: where a provider was declared, for every message about it. */
export function providerLabel(provider: ProviderPlan): string {
  return `${provider.where} (token ${tokenName(provider.token)})`;
}

/**
 * Reads a `providers` list of `@Main` or `@Command` (`owner` is e.g.
 * `@Main(App)`) into provider plans, with a problem for each malformed entry.
 */
export function planProviders(list: unknown, owner: string, problems: string[]): ProviderPlan[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    problems.push(`${owner}: providers must be an array of classes and { provide, ... } providers.`);
    return [];
  }
  const plans: ProviderPlan[] = [];
  for (const [index, entry] of list.entries()) {
    const where = `${owner} providers[${index}]`;
    const plan = planProvider(entry as unknown, where, problems);
    if (plan) plans.push(plan);
  }
  return plans;
}

function planProvider(entry: unknown, where: string, problems: string[]): ProviderPlan | undefined {
  if (typeof entry === 'function') {
    return {
      token: entry as Class,
      kind: 'class',
      useClass: entry as Class,
      useValue: undefined,
      useFactory: undefined,
      inject: [],
      component: undefined,
      commands: [],
      where,
    };
  }
  if (!entry || typeof entry !== 'object' || !('provide' in entry)) {
    problems.push(
      `${where} is ${describe(entry)}, not a class or a provider; write a class, { provide, useClass }, { provide, useValue } or { provide, useFactory, inject? }.`,
    );
    return undefined;
  }
  const record = entry as Record<string, unknown>;
  const { provide } = record;
  if (!isToken(provide)) {
    problems.push(
      `${where}: provide is ${describe(provide)}; a token is a class, a string or a symbol (an undefined class is usually a circular import).`,
    );
    return undefined;
  }
  const label = `${where} (token ${tokenName(provide)})`;
  const before = problems.length;
  for (const key of Object.keys(record)) {
    if (!PROVIDER_KEYS.includes(key)) {
      problems.push(
        `${label}: unknown key '${key}'; a provider has provide and one of useClass, useValue or useFactory (with inject).`,
      );
    }
  }
  const uses = USE_KEYS.filter((key) => key in record);
  if (uses.length !== 1) {
    problems.push(
      `${label}: ${uses.length === 0 ? 'has none' : `has ${uses.join(' and ')}`}; give exactly one of useClass, useValue or useFactory.`,
    );
    return undefined;
  }
  const { useClass, useFactory, inject, component, commands } = record;
  if (inject !== undefined && uses[0] !== 'useFactory') {
    problems.push(`${label}: inject lists a factory's parameters and goes with useFactory only.`);
  }
  if (component !== undefined && (uses[0] !== 'useFactory' || typeof component !== 'function')) {
    problems.push(
      `${label}: component is ${describe(component)}; it goes with useFactory, as a function from the value made to its Resource.`,
    );
  }
  if (commands !== undefined && (!Array.isArray(commands) || !commands.every((c) => typeof c === 'function'))) {
    problems.push(`${label}: commands must be an array of @Command classes.`);
  }
  const common = {
    component: uses[0] === 'useFactory' ? (component as ProviderPlan['component']) : undefined,
    commands: [...((commands as Class[] | undefined) ?? [])],
    where,
  };
  if (uses[0] === 'useClass' && typeof useClass !== 'function') {
    problems.push(`${label}: useClass is ${describe(useClass)}, not a class.`);
  }
  let tokens: Token[] = [];
  if (uses[0] === 'useFactory') {
    if (typeof useFactory !== 'function')
      problems.push(`${label}: useFactory is ${describe(useFactory)}, not a function.`);
    if (inject !== undefined && (!Array.isArray(inject) || !inject.every(isToken))) {
      const list: unknown[] = Array.isArray(inject) ? inject : [];
      const bad = list.findIndex((t) => !isToken(t));
      problems.push(
        bad >= 0
          ? `${label}: inject[${bad}] is ${describe(list[bad])}; a token is a class, a string or a symbol (an undefined class is usually a circular import).`
          : `${label}: inject must be an array of tokens.`,
      );
    } else {
      tokens = [...((inject as Token[] | undefined) ?? [])];
      if (typeof useFactory === 'function' && useFactory.length > tokens.length) {
        problems.push(
          `${label}: useFactory takes ${useFactory.length} parameters but inject lists ${tokens.length}; list a token in inject for each parameter, in order.`,
        );
      }
    }
  }
  if (problems.length > before) return undefined;
  if (uses[0] === 'useClass') {
    return {
      token: provide,
      kind: 'class',
      useClass: useClass as Class,
      useValue: undefined,
      useFactory: undefined,
      inject: [],
      ...common,
    };
  }
  if (uses[0] === 'useValue') {
    return {
      token: provide,
      kind: 'value',
      useClass: undefined,
      useValue: record.useValue,
      useFactory: undefined,
      inject: [],
      ...common,
    };
  }
  return {
    token: provide,
    kind: 'factory',
    useClass: undefined,
    useValue: undefined,
    useFactory: useFactory as ProviderPlan['useFactory'],
    inject: tokens,
    ...common,
  };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return 'an array';
  if (value && typeof value === 'object') return 'an object';
  return String(value);
}
