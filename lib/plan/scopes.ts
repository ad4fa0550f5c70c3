import { type InjectionRecord, readRecord } from '../../decorators/metadata.js';
// The walk is the container's knowledge (inversify's metadata); the scopes and their messages are the plan's.
import { untypedProblems, walkGraph } from '../container/graph.js';
import { tokenName } from './providers.js';
import type { BuildPlan, Class, CommandPlan, ProviderPlan, Token } from './types.js';

/** A token a constructor, property or factory asks for that no provider binds. */
export interface UnboundToken {
  readonly token: Token;
  /** The plan problem that names it, who asks for it and how to bind it. */
  readonly problem: string;
  /** Another command's provider binds it: no binding from outside can stand in for it. */
  readonly provided: boolean;
}

/**
 * Walks each command's graph with @Main's providers and its own: what its
 * runs build, in dependency order, and every unbound token, cycle and token
 * bound twice, named with where it was declared.
 */
export function planGraphs(
  main: Class,
  mainBindings: readonly ProviderPlan[],
  commands: ReadonlyMap<string, CommandPlan>,
  problems: string[],
  {
    metadataEmitted,
    isBound,
  }: { metadataEmitted: boolean | undefined; isBound: ((token: Token) => boolean) | undefined },
): { commands: Map<string, CommandPlan>; classes: Function[]; unbound: UnboundToken[] } {
  const add = (text: string): void => {
    if (!problems.includes(text)) problems.push(text);
  };
  const shared = new Map<Token, ProviderPlan>();
  for (const binding of mainBindings) {
    const first = shared.get(binding.token);
    if (first) add(boundTwice(binding, first));
    else shared.set(binding.token, binding);
  }
  const injectionsOf = (cls: Function): InjectionRecord[] => readRecord(cls)?.injections ?? [];
  // A token some provider binds is bound by that provider or not at all: an outside binding does not count.
  const provided = new Set<Token>(
    [...mainBindings, ...[...commands.values()].flatMap((c) => c.bindings)].map((b) => b.token),
  );
  const outside = isBound && ((token: Token) => !provided.has(token) && isBound(token));
  const planned = new Map<string, CommandPlan>();
  const classes = new Set<Function>();
  const untyped = new Set<Function>();
  /** `asker` + token → the commands in which nothing binds it. */
  const unbound = new Map<string, { asker: string; token: Token; commands: string[] }>();
  for (const command of commands.values()) {
    const scope = new Map(shared);
    for (const binding of command.bindings) {
      const first = scope.get(binding.token);
      if (first) add(boundTwice(binding, first));
      else scope.set(binding.token, binding);
    }
    const graph = walkGraph({
      roots: [
        ...(command.broughtBy ? [] : mainBindings.map((b) => b.token)),
        ...command.bindings.map((b) => b.token),
        ...command.controllers.map((c) => c.cls),
        ...command.services.map((s) => s.cls),
        main,
        command.cls,
      ],
      bindings: scope,
      injectionsOf,
      ...(outside ? { isBound: outside } : {}),
    });
    for (const text of graph.problems) add(text);
    for (const cls of graph.classes) classes.add(cls);
    for (const cls of graph.untyped) untyped.add(cls);
    for (const { asker, token } of graph.unbound) {
      const key = `${asker}\0${tokenName(token)}`;
      const entry = unbound.get(key) ?? { asker, token, commands: [] };
      if (!entry.commands.includes(command.name)) entry.commands.push(command.name);
      unbound.set(key, entry);
    }
    const last = (b: BuildPlan): boolean => b.token === main || b.token === command.cls;
    const builds = [
      ...graph.builds.filter((b) => !last(b)),
      ...[main, command.cls].flatMap((cls) => graph.builds.filter((b) => b.token === cls)),
    ];
    planned.set(command.name, { ...command, builds });
  }
  const found: UnboundToken[] = [];
  for (const { asker, token, commands: where } of unbound.values()) {
    const scope = where.length === commands.size ? '' : ` when ${where.map((c) => `'${c}'`).join(', ')} runs`;
    const problem = `${asker} asks for token ${tokenName(token)}, which no provider binds${scope}; add { provide: ${tokenName(token)}, useValue | useClass | useFactory } to @Main({ providers }) or to the command's providers.`;
    add(problem);
    found.push({ token, problem, provided: provided.has(token) });
  }
  for (const text of untypedProblems([...untyped], metadataEmitted)) add(text);
  return { commands: planned, classes: [...classes], unbound: found };
}

function boundTwice(second: ProviderPlan, first: ProviderPlan): string {
  return `${second.where}: token ${tokenName(second.token)} is already bound by ${first.where}; a token has one provider, remove one of them.`;
}
