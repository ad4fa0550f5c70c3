import type { Container } from 'inversify';
import { DionysusError, HookError, HookTimeoutError, messageOf } from '../errors.js';
import type { Clock } from '../lifecycle/clock.js';
import { planOfBuilt } from '../plan/plan.js';
import { providerLabel } from '../plan/providers.js';
import type { AppPlan, BuildPlan, CommandPlan, HookSet, Resource, Token } from '../plan/types.js';
import { resolveClass, resourceOf } from './container.js';

export interface HookOwner {
  /** The class name, for messages (`Class.method` hook names stay as they are); a resource's label. */
  readonly name: string;
  readonly instance: object;
  /** This class's hooks by phase, each list sorted by `order` (HookSet from lib/plan/types.ts). */
  readonly hooks: HookSet;
  /** The Resource owning the built value (a factory's `component`): it starts and stops in the value's place. */
  readonly resource?: Resource;
}

const NO_HOOKS: HookSet = { prerun: [], postrun: [], shutdown: [] };

/**
 * Builds the running command's objects (resolving async factories first, each under `timeoutMs`, a failure
 * naming the token) and returns every built instance that has hooks, in PreRun order: each class after every
 * class it depends on, `order` breaking ties among independent ones, Main's and then the command's last.
 * PostRun and Shutdown run in exactly the reverse of this order. Main and the command are always in the
 * list (the command last: its instance takes the parsed options), hooks or not.
 */
export async function resolveOwners(args: {
  container: Container;
  plan: AppPlan;
  command: CommandPlan;
  clock: Clock;
  timeoutMs: number;
}): Promise<HookOwner[]> {
  const { container, plan, command } = args;
  const built = new Map<Token, unknown>();
  for (const build of command.builds) {
    // A test container binds a token several commands provide only inside each command's graph: built with it.
    if (!container.isBound(build.token as never)) continue;
    built.set(build.token, await resolveBuild(build, args));
  }
  const main = built.get(plan.main) ?? (await resolveClass(container, plan.main));
  const cmd = built.get(command.cls) ?? (await resolveClass(container, command.cls));
  const others = command.builds.filter((b) => b.token !== plan.main && b.token !== command.cls);
  const owners: HookOwner[] = [];
  const seen = new Set<unknown>([main, cmd]);
  const rank = (b: BuildPlan): number | undefined => resourceOf(built.get(b.token))?.order;
  for (const build of dependencyOrder(others, (b) => hooksOf(plan, built.get(b.token)), rank)) {
    const instance = built.get(build.token);
    if (seen.has(instance) || !instance || typeof instance !== 'object') continue;
    seen.add(instance);
    // The resource first: what the value's own hooks do needs it started, and it stops after them.
    const resource = resourceOf(instance);
    if (resource) owners.push({ name: resource.label, instance, hooks: NO_HOOKS, resource });
    const hooks = hooksOf(plan, instance);
    if (hooks.prerun.length + hooks.postrun.length + hooks.shutdown.length === 0) continue;
    owners.push({ name: instance.constructor.name, instance, hooks });
  }
  owners.push(
    { name: plan.main.name, instance: main as object, hooks: plan.hooks },
    { name: command.cls.name, instance: cmd as object, hooks: command.hooks },
  );
  return owners;
}

/**
 * The owners whose PostRun hooks run, given how many PreRun hooks (in list order) succeeded: an owner
 * whose PreRun hooks all succeeded (one without any, once every owner before it started). Main and the
 * command always get theirs, as before providers had hooks: what their PreRun opened is released.
 */
export function startedOwners(owners: readonly HookOwner[], succeeded: number): HookOwner[] {
  const last = owners.slice(-2);
  let count = 0;
  return owners.filter((owner) => {
    count += owner.hooks.prerun.length;
    return count <= succeeded || last.includes(owner);
  });
}

function hooksOf(plan: AppPlan, instance: unknown): HookSet {
  const empty: HookSet = { prerun: [], postrun: [], shutdown: [] };
  if (!instance || typeof instance !== 'object') return empty;
  return planOfBuilt(plan, instance.constructor).hooks;
}

/**
 * Kahn's algorithm over the builds: a build becomes ready once all it needs
 * is placed; among ready ones, the lowest `order` of its PreRun hooks (or of
 * the Resource owning it) goes first, then the one declared (walked) first.
 */
function dependencyOrder(
  builds: readonly BuildPlan[],
  hooks: (build: BuildPlan) => HookSet,
  resourceRank: (build: BuildPlan) => number | undefined,
): BuildPlan[] {
  const index = new Map(builds.map((b, i) => [b.token, i]));
  const rank = builds.map((b) => {
    const prerun = hooks(b).prerun;
    const orders = [...prerun.map((h) => h.order), resourceRank(b) ?? (prerun.length > 0 ? Infinity : 0)];
    return Math.min(...orders);
  });
  // What a build needs goes ahead with it: a dependency takes the lowest rank of what depends on it
  // (builds come dependencies first, so walking them backwards reaches every dependent first).
  for (let i = builds.length - 1; i >= 0; i--) {
    for (const dep of (builds[i] as BuildPlan).deps) {
      const at = index.get(dep);
      if (at !== undefined && at !== i) rank[at] = Math.min(rank[at] as number, rank[i] as number);
    }
  }
  const waiting = builds.map((b) => b.deps.filter((d) => index.has(d) && d !== b.token).length);
  const placed = new Set<number>();
  const ordered: BuildPlan[] = [];
  while (ordered.length < builds.length) {
    let next = -1;
    for (let i = 0; i < builds.length; i++) {
      if (placed.has(i) || waiting[i] !== 0) continue;
      if (next < 0 || (rank[i] as number) < (rank[next] as number)) next = i;
    }
    // A cycle the planner let through (it reports them): keep walk order for the rest.
    if (next < 0) next = builds.findIndex((_, i) => !placed.has(i));
    placed.add(next);
    const build = builds[next] as BuildPlan;
    ordered.push(build);
    builds.forEach((b, i) => {
      if (b.deps.includes(build.token)) waiting[i] = (waiting[i] as number) - 1;
    });
  }
  return ordered;
}

/** Builds one binding; a factory runs under the hook deadline, its failure naming the token and where it was declared. */
async function resolveBuild(
  build: BuildPlan,
  { container, clock, timeoutMs }: { container: Container; clock: Clock; timeoutMs: number },
): Promise<unknown> {
  const { provider } = build;
  if (provider?.kind !== 'factory') {
    if (typeof build.token === 'function') return resolveClass(container, build.token as never);
    try {
      return await container.getAsync(build.token as never);
    } catch (error) {
      throw new DionysusError('plan', `${providerLabel(provider as never)}: cannot build it: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
  const label = providerLabel(provider);
  let timer: unknown;
  const timedOut = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(
      () =>
        reject(
          new HookTimeoutError(
            label,
            'prerun',
            timeoutMs,
            `${label}: useFactory did not settle within ${timeoutMs} ms (dionysus.hooks.timeoutMs); it runs before the first PreRun hook, so make it faster or raise the deadline`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([container.getAsync(build.token as never), timedOut]);
  } catch (error) {
    if (error instanceof HookTimeoutError) throw error;
    throw new HookError(label, 'prerun', error, `${label}: useFactory failed before PreRun: ${messageOf(error)}`);
  } finally {
    clock.clearTimeout(timer);
  }
}
