import { type ClassRecord, COMMAND_OPTION_KEYS, readRecord } from '../../decorators/metadata.js';
import { PlanError } from '../errors.js';
import { isProbeName } from '../probe/files.js';
import { isLazyList, lazyClasses, loadLazyLists } from './lazy.js';
import { planProviders } from './providers.js';
import { merged } from './records.js';
import { planGraphs, type UnboundToken } from './scopes.js';
import { planControllers, planServices } from './servers.js';
import type {
  AppPlan,
  CheckPlan,
  Class,
  CommandPlan,
  HookPlan,
  HookSet,
  LazyListPlan,
  OptionPlan,
  OptionType,
  ProviderPlan,
  ServerKind,
  Token,
} from './types.js';

const SERVERS: readonly ServerKind[] = ['http', 'grpc', 'ctl'];
const COMMAND_NAME = /^[a-z][a-z0-9-]*$/;
/** A command's name: one word, or several separated by spaces (`migrate up`), each a word of COMMAND_NAME. */
const COMMAND_PATH = /^[a-z][a-z0-9-]*( [a-z][a-z0-9-]*)*$/;
const FLAG = /^(-[A-Za-z0-9],)?--[a-z0-9][a-z0-9-]*$|^-[A-Za-z0-9]$/;
/** An upper-case word declares a positional argument (`@Option('NAME')`: `app migrate create NAME`). */
const POSITIONAL = /^[A-Z][A-Z0-9_]*$/;

/**
 * Reads every decorator record reachable from the `@Main` class once and
 * returns an immutable plan, or throws a PlanError listing every problem.
 */
export interface PlanOptions {
  /**
   * The @Controller and @GrpcService classes the app's modules declared (the
   * launcher knows them): one that no command lists is a warning.
   */
  readonly declared?: readonly Function[];
  /**
   * Tokens bound outside the app's providers (a test container's override):
   * a constructor may ask for them.
   */
  readonly isBound?: (token: Token) => boolean;
  /**
   * When nothing else is wrong, called with the unbound tokens instead of
   * throwing them (a test container reports those its override left unbound).
   */
  readonly onUnbound?: (unbound: readonly UnboundToken[]) => void;
}

export type { UnboundToken };

export function buildPlan(main: Function, { declared = [], isBound, onUnbound }: PlanOptions = {}): AppPlan {
  const problems: string[] = [];
  const mainRecord = merged(main, problems);
  const options = mainRecord.main;
  if (!options) {
    throw new PlanError([
      `${main.name || 'the class'}: bootstrap needs the class decorated with @Main({ name, commands }).`,
    ]);
  }
  if (typeof options.name !== 'string' || !COMMAND_NAME.test(options.name)) {
    problems.push(
      `${main.name}: @Main name ${JSON.stringify(options.name)} must be lower-case letters, digits and dashes.`,
    );
  }
  if (mainRecord.runs.length > 0) {
    problems.push(`${main.name}.${mainRecord.runs[0]}: @Run belongs on a @Command class, not on @Main.`);
  }
  if (mainRecord.command) problems.push(`${main.name}: a class is either @Main or a @Command, not both.`);

  const bindings = planProviders(options.providers, `@Main(${main.name})`, problems);
  const commands = new Map<string, CommandPlan>();
  const owners = new Map<string, string>();
  // Commands a provider brings (a database's `migrate …`) join those @Main lists.
  const listedCommands: { cls: unknown; where: string; broughtBy?: string; inherited: readonly ProviderPlan[] }[] = [
    ...(options.commands ?? []).map((cls, index) => ({ cls, where: `@Main commands[${index}]`, inherited: [] })),
    ...bindings.flatMap((b) =>
      b.commands.map((cls) => ({ cls, where: `${b.where} commands`, broughtBy: b.where, inherited: [] })),
    ),
  ];
  for (let i = 0; i < listedCommands.length; i++) {
    const { cls, where, broughtBy, inherited } = listedCommands[i] as (typeof listedCommands)[number];
    if (typeof cls !== 'function') {
      problems.push(`${main.name}: ${where} is ${String(cls)}, not a class.`);
      continue;
    }
    const plan = planCommand(cls as Class, problems, broughtBy, inherited);
    // A command's own provider that brings commands (a database on one command) brings them to the app,
    // each with that provider in its own scope.
    for (const b of plan?.bindings ?? []) {
      if (inherited.includes(b)) continue;
      for (const brought of b.commands) {
        // One provider object on several commands brings its commands once.
        if (listedCommands.some((listed) => listed.cls === brought)) continue;
        listedCommands.push({ cls: brought, where: `${b.where} commands`, broughtBy: b.where, inherited: [b] });
      }
    }
    if (!plan) continue;
    const first = owners.get(plan.name);
    if (first) {
      problems.push(`${cls.name}: command name '${plan.name}' is already used by ${first}; command names are unique.`);
      continue;
    }
    owners.set(plan.name, cls.name);
    commands.set(plan.name, plan);
  }
  if (commands.size === 0 && (options.commands ?? []).length === 0) {
    problems.push(`${main.name}: @Main lists no commands; add at least one @Command class to commands.`);
  }

  const providers = bindings.flatMap((b) => (b.useClass ? [b.useClass] : []));
  const commandClasses = [...commands.values()].map((c) => c.cls);
  const controllerClasses = [...commands.values()].flatMap((c) => [
    ...c.controllers.map((k) => k.cls),
    ...c.services.map((k) => k.cls),
  ]);
  const roots = [main, ...commandClasses, ...controllerClasses, ...providers];
  const graphs = planGraphs(main as Class, bindings, commands, problems, {
    metadataEmitted: decoratorMetadataEmitted(roots),
    isBound,
  });
  const unboundProblems = new Set(graphs.unbound.map((u) => u.problem));
  const classes = [...new Set([main, ...commandClasses, ...controllerClasses, ...graphs.classes])] as Class[];
  // Every class the container may build besides Main and the commands: providers, what constructors reach.
  const providerChecks = new Map<Class, CheckPlan[]>();
  const classHooks = new Map<Class, HookSet>();
  for (const cls of new Set<Function>([...providers, ...controllerClasses, ...graphs.classes])) {
    if (cls === main || commandClasses.includes(cls as Class)) continue;
    const record = merged(cls, problems);
    if (record.runs.length > 0) problems.push(`${cls.name}.${record.runs[0]}: @Run belongs on a @Command class.`);
    const hooks = planHooks(cls as Class, record);
    if (hooks.prerun.length + hooks.postrun.length + hooks.shutdown.length > 0) classHooks.set(cls as Class, hooks);
    const checks = planChecks(cls as Class, record);
    if (checks.length > 0) providerChecks.set(cls as Class, checks);
  }
  // Routes are served only from the controllers a command lists: a forgotten one must not be a silent 404.
  // A list not loaded yet may name any class: those checks wait until every list is known.
  const listed = new Set<Function>([...commandClasses, ...controllerClasses]);
  const unloaded = new Set([...commands.values()].flatMap((c) => c.lazy.map((l) => l.kind)));
  for (const cls of unloaded.has('controllers') ? [] : new Set<Function>([main, ...providers, ...graphs.classes])) {
    const route = listed.has(cls) ? undefined : merged(cls, []).routes[0];
    if (route) {
      problems.push(
        `${cls.name}.${route.handler}: a route of a class no http command lists in controllers, so it is never served; add ${cls.name} to @Command('http', { controllers: [...] }).`,
      );
    }
  }
  problems.push(...duplicateChecks(planChecks(main as Class, mainRecord), commands, providerChecks));
  if (onUnbound && problems.every((p) => unboundProblems.has(p))) {
    onUnbound(graphs.unbound);
  } else if (problems.length > 0) throw new PlanError(problems);
  const foreign = new Set<unknown>(
    [...bindings, ...[...commands.values()].flatMap((c) => c.bindings)].map((b) => b.useValue),
  );
  const warnings = declared
    .filter((cls) => !listed.has(cls) && !unloaded.has(merged(cls, []).controller ? 'controllers' : 'services'))
    .map(unlisted);

  return deepFreeze(
    {
      name: options.name,
      version: options.version,
      description: options.description,
      main: main as Class,
      hooks: planHooks(main as Class, mainRecord),
      checks: planChecks(main as Class, mainRecord),
      commands: graphs.commands,
      providers,
      bindings,
      classHooks,
      classes,
      providerChecks,
      warnings,
    },
    foreign,
  );
}

/**
 * The plan with the lazy `controllers` and `services` lists of `command`
 * loaded: the same plan when it has none, else the app planned again with
 * their classes (routes, graphs, hooks and checks), so a problem in them is
 * reported as one at start would be. Throws a PlanError.
 */
export async function withLazyLists(
  plan: AppPlan,
  command: CommandPlan,
  options: PlanOptions = {},
): Promise<{ plan: AppPlan; command: CommandPlan }> {
  if (command.lazy.length === 0) return { plan, command };
  const declared = await loadLazyLists([command]);
  const loaded = buildPlan(plan.main, {
    ...options,
    // The launcher's list, and what the loaded modules declared: one of them no command lists is a warning.
    ...(options.declared ? { declared: [...options.declared, ...declared] } : {}),
  });
  return { plan: loaded, command: loaded.commands.get(command.name) as CommandPlan };
}

/**
 * Whether the compiler emitted decorator type metadata: TypeScript writes
 * `design:type` for every decorated method and property when
 * `emitDecoratorMetadata` is on. Undefined when no member is decorated.
 */
function decoratorMetadataEmitted(classes: readonly Function[]): boolean | undefined {
  let members = 0;
  for (const cls of classes) {
    const record = merged(cls, []);
    const names = [
      ...record.runs,
      ...record.hooks.map((h) => h.method),
      ...record.checks.map((c) => c.method),
      ...record.routes.map((r) => r.handler),
      ...record.options.map((o) => o.property),
    ];
    for (const name of names) {
      members++;
      if (Reflect.getMetadata('design:type', cls.prototype, name) !== undefined) return true;
    }
  }
  return members > 0 ? false : undefined;
}

/** Why a declared @Controller or @GrpcService that no command lists is likely a mistake. */
function unlisted(cls: Function): string {
  return merged(cls, []).controller
    ? `${cls.name}: a @Controller that no command lists in controllers, so its routes are never served; add it to @Command('http', { controllers: [${cls.name}] }).`
    : `${cls.name}: a @GrpcService that no command lists in services, so it is never served; add it to @Command('grpc', { services: [${cls.name}] }).`;
}

/** Every class the app's container binds: Main, commands, providers. */
export function appClasses(plan: AppPlan): readonly Class[] {
  return plan.classes;
}

/** The `@Main` class among a module's exports: its default export, else the one exported class with a @Main record. */
export function findMainClass(exports: unknown): Function | undefined {
  if (typeof exports === 'function') return exports;
  if (!exports || typeof exports !== 'object') return undefined;
  const record = exports as Record<string, unknown>;
  if (typeof record.default === 'function' && readRecord(record.default)?.main) return record.default;
  const mains = Object.values(record).filter((v): v is Function => typeof v === 'function' && !!readRecord(v)?.main);
  return mains.length === 1 ? mains[0] : undefined;
}

/** Two checks of one probe with the same name would hide one another in reports: each command's set must be unique. */
function duplicateChecks(
  mainChecks: readonly CheckPlan[],
  commands: ReadonlyMap<string, CommandPlan>,
  providerChecks: ReadonlyMap<Class, readonly CheckPlan[]>,
): string[] {
  const problems = new Set<string>();
  const shared = [...mainChecks, ...[...providerChecks.values()].flat()];
  for (const command of commands.values()) {
    const seen = new Map<string, CheckPlan>();
    for (const check of [...shared, ...command.checks]) {
      const key = `${check.probe}:${check.name}`;
      const first = seen.get(key);
      if (first && first !== check) {
        problems.add(
          `${check.owner.name}.${check.method}: ${check.probe} check '${check.name}' is also declared by ${first.owner.name}.${first.method}; give one of them another name.`,
        );
      } else seen.set(key, check);
    }
  }
  return [...problems];
}

/**
 * `broughtBy`: the provider that brings this command (a database's `migrate …`); `inherited`: a
 * command-level provider's bindings, which the commands it brings get too (the database they migrate).
 */
function planCommand(
  cls: Class,
  problems: string[],
  broughtBy?: string,
  inherited: readonly ProviderPlan[] = [],
): CommandPlan | undefined {
  const record = merged(cls, problems);
  if (!record.command) {
    problems.push(`${cls.name}: listed in @Main commands but has no @Command(name) decorator.`);
    return undefined;
  }
  const { name, options } = record.command;
  let ok = true;
  for (const key of Object.keys(options ?? {})) {
    if (key === 'providers' || (COMMAND_OPTION_KEYS as readonly string[]).includes(key)) continue;
    const near = [...COMMAND_OPTION_KEYS, 'providers'].find((known) => known.startsWith(key.slice(0, 4)));
    problems.push(
      `${cls.name}: @Command option '${key}' is not known${near ? `; did you mean '${near}'?` : ''} (options: ${COMMAND_OPTION_KEYS.join(', ')}).`,
    );
  }
  if (typeof name !== 'string' || !COMMAND_PATH.test(name)) {
    problems.push(
      `${cls.name}: command name ${JSON.stringify(name)} must be lower-case letters, digits and dashes (words separated by one space for a command path, e.g. 'migrate up').`,
    );
    ok = false;
  } else if (isProbeName(name)) {
    problems.push(`${cls.name}: command name '${name}' is reserved for the ${name} probe; choose another name.`);
    ok = false;
  } else if (name.split(' ')[0] === 'manifest' || name.split(' ')[0] === 'openapi') {
    const what = name.startsWith('manifest') ? 'the Kubernetes manifest generator' : 'the OpenAPI document generator';
    problems.push(`${cls.name}: command name '${name}' is reserved for ${what}; choose another name.`);
    ok = false;
  }
  if (record.main) problems.push(`${cls.name}: a class is either @Main or a @Command, not both.`);
  let server = options.server;
  if (server !== undefined && !SERVERS.includes(server)) {
    problems.push(
      `${cls.name}: unknown server ${JSON.stringify(server)}; use one of ${SERVERS.join(', ')}, or none for a task.`,
    );
    server = undefined;
  } else if (server === undefined && SERVERS.includes(name as ServerKind)) {
    server = name as ServerKind;
  }
  const runs = [...new Set(record.runs)];
  if (runs.length > 1) {
    problems.push(
      `${cls.name}: ${runs.length} @Run methods (${runs.join(', ')}); a command has one entry point, keep one.`,
    );
  }
  const takesRun = server === undefined || server === 'ctl';
  if (takesRun && runs.length === 0) {
    const what = server === 'ctl' ? 'a ctl command' : 'a task (no server)';
    problems.push(`${cls.name}: ${what} needs one @Run() method; add @Run() to the method that does the work.`);
  }
  if (!takesRun && runs.length > 0) {
    problems.push(
      `${cls.name}.${runs[0]}: a ${server} command serves until stopped and takes no @Run; use @PreRun for start-up work.`,
    );
  }
  const planned = planOptions(cls, record, problems);
  const lazy: LazyListPlan[] = [];
  const controllers = planControllers(
    cls,
    server,
    listNow(cls, 'controllers', options.controllers, lazy, problems),
    problems,
  );
  const services = planServices(cls, server, listNow(cls, 'services', options.services, lazy, problems), problems);
  const middleware = options.middleware ?? [];
  if (!Array.isArray(middleware) || middleware.some((m) => typeof m !== 'function')) {
    problems.push(`${cls.name}: @Command middleware must be an array of koa middleware functions.`);
  }
  if (record.routes.length > 0) {
    problems.push(
      `${cls.name}.${record.routes[0]?.handler}: route decorators belong on a @Controller class listed in controllers.`,
    );
  }
  const { providers, ...extra } = options;
  const bindings = [...planProviders(providers, `@Command(${cls.name})`, problems), ...inherited];
  if (!ok) return undefined;
  return {
    name,
    description: options.description,
    server,
    cls,
    run: runs[0],
    hooks: planHooks(cls, record),
    options: planned,
    checks: planChecks(cls, record),
    controllers,
    services,
    lazy,
    middleware: Array.isArray(middleware) ? middleware : [],
    extra,
    bindings,
    builds: [],
    broughtBy,
  };
}

/**
 * A list as given, or a lazy list's classes once loaded; while it is not,
 * none (noted in `lazy`): `--help` plans the command without them.
 */
function listNow(
  cls: Class,
  kind: LazyListPlan['kind'],
  value: unknown,
  lazy: LazyListPlan[],
  problems: string[],
): unknown {
  if (!isLazyList(value)) return value;
  const list: LazyListPlan = { kind, load: value };
  const classes = lazyClasses(list, cls, problems);
  if (!classes) lazy.push(list);
  return classes ?? [];
}

function planOptions(cls: Class, record: ClassRecord, problems: string[]): OptionPlan[] {
  const seen = new Set<string>();
  const plans: OptionPlan[] = [];
  for (const option of record.options) {
    const where = `${cls.name}.${option.property}`;
    const positional = typeof option.flag === 'string' && POSITIONAL.test(option.flag);
    if (typeof option.flag !== 'string' || (!FLAG.test(option.flag) && !positional)) {
      problems.push(`${where}: @Option flag ${JSON.stringify(option.flag)} must look like --name or -n,--name.`);
      continue;
    }
    const names = option.flag.split(',');
    const clash = names.find((n) => seen.has(n) || n === '--help' || n === '-h' || n === '--version');
    if (clash) {
      problems.push(
        `${where}: option ${clash} is already taken in command ${record.command?.name}; pick another flag.`,
      );
      continue;
    }
    for (const n of names) seen.add(n);
    const type = option.options.type ?? typeFromDesign(option.designType);
    if (!type) {
      problems.push(`${where}: cannot tell the option's type from the property; set @Option(flag, { type }).`);
      continue;
    }
    const { valueName } = option.options;
    if (valueName !== undefined && (typeof valueName !== 'string' || !/^\S+$/.test(valueName))) {
      problems.push(`${where}: @Option valueName ${JSON.stringify(valueName)} must be one word, e.g. 'N' or 'PATH'.`);
      continue;
    }
    if (positional && type !== 'string' && type !== 'number') {
      problems.push(`${where}: a positional argument (${option.flag}) takes a string or a number, not a ${type}.`);
      continue;
    }
    plans.push({
      property: option.property,
      flag: option.flag,
      positional,
      type,
      required: option.options.required ?? false,
      description: option.options.description,
      valueName,
    });
  }
  return plans;
}

function typeFromDesign(designType: unknown): OptionType | undefined {
  if (designType === String) return 'string';
  if (designType === Boolean) return 'boolean';
  if (designType === Number) return 'number';
  if (designType === Array) return 'array';
  return undefined;
}

function planHooks(owner: Class, record: ClassRecord): HookSet {
  const of = (phase: HookPlan['phase']): HookPlan[] =>
    record.hooks
      .filter((h) => h.phase === phase)
      .map((h) => ({
        phase,
        owner,
        method: h.method,
        name: `${owner.name}.${h.method}`,
        order: h.options.order ?? 0,
        timeoutMs: h.options.timeoutMs,
      }))
      // Array#sort is stable: equal orders keep declaration order.
      .sort((a, b) => a.order - b.order);
  return { prerun: of('prerun'), postrun: of('postrun'), shutdown: of('shutdown') };
}

function planChecks(owner: Class, record: ClassRecord): CheckPlan[] {
  return record.checks.map((c) => ({
    probe: c.probe,
    owner,
    method: c.method,
    name: c.name,
    timeoutMs: c.options.timeoutMs,
  }));
}

/** Freezes the plan, but for what it only points at (`foreign`: the values of useValue providers). */
function deepFreeze<T>(value: T, foreign: ReadonlySet<unknown> = new Set()): T {
  // A user's schema (Standard Schema) is theirs: schema libraries build parts of it lazily.
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !('~standard' in value) && !foreign.has(value)) {
    Object.freeze(value);
    if (value instanceof Map) {
      for (const v of value.values()) deepFreeze(v, foreign);
    } else {
      for (const v of Object.values(value)) if (typeof v !== 'function') deepFreeze(v, foreign);
    }
  }
  return value;
}

const EMPTY_HOOKS: HookSet = Object.freeze({ prerun: [], postrun: [], shutdown: [] });
/** Classes first seen at run time (what a factory or a test override returned), planned once. */
const latePlans = new WeakMap<Function, { hooks: HookSet; checks: readonly CheckPlan[] }>();

/**
 * The hooks and checks of a class the container built that is neither Main
 * nor a command: planned already, or planned now for a class only a factory
 * (or a test's override) made, whose misuse then fails the run by name.
 */
export function planOfBuilt(plan: AppPlan, cls: Function): { hooks: HookSet; checks: readonly CheckPlan[] } {
  if (cls === plan.main || [...plan.commands.values()].some((c) => c.cls === cls)) {
    return { hooks: EMPTY_HOOKS, checks: [] };
  }
  const hooks = plan.classHooks.get(cls as Class);
  const checks = plan.providerChecks.get(cls as Class);
  if (hooks || checks || plan.classes.includes(cls as Class))
    return { hooks: hooks ?? EMPTY_HOOKS, checks: checks ?? [] };
  let late = latePlans.get(cls);
  if (!late) {
    const problems: string[] = [];
    const record = merged(cls, problems);
    if (problems.length > 0) throw new PlanError(problems);
    late = { hooks: planHooks(cls as Class, record), checks: planChecks(cls as Class, record) };
    latePlans.set(cls, late);
  }
  return late;
}
