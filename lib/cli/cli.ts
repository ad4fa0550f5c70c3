import { Builtins, Cli, Command, type CommandClass, Option, UsageError } from 'clipanion';
import type { AppPlan, CommandPlan, OptionPlan } from '../plan/types.js';
import { manifestCommand, openApiCommand, probeCommands } from './builtins.js';
import { AppCli, VALUE_NAMES } from './usage.js';
import { appVersion } from './version.js';

export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly colors?: boolean;
}

/** Runs a planned command with its parsed option values; resolves to the exit code. */
export type Execute = (command: CommandPlan, values: Record<string, unknown>) => Promise<number>;

/**
 * The plan with a command's lazy controllers and services loaded (the same
 * plan when it has none); rejects with a PlanError naming their problems.
 */
export type Complete = (command: CommandPlan) => Promise<{ plan: AppPlan; command: CommandPlan }>;

/** Holds the parsed values of a generated command's options, keyed by property. */
const VALUES = Symbol('values');
/** The command plan behind a generated clipanion class. */
const PLAN = Symbol('plan');

/** The generated command class of each app command, by name, per CLI (for usage in error messages). */
const GENERATED = new WeakMap<Cli, Map<string, CommandClass>>();

/** Builds the clipanion CLI of an app from its plan. */
export function buildCli(
  plan: AppPlan,
  execute: Execute,
  colors = false,
  complete: Complete = async (command) => ({ plan, command }),
): Cli {
  const cli = new AppCli({ binaryName: plan.name, binaryLabel: plan.description ?? plan.name, enableColors: colors });
  cli.register(Builtins.HelpCommand);
  cli.register(versionCommand(plan));
  const generated = new Map<string, CommandClass>();
  for (const command of plan.commands.values()) {
    const cls = commandClass(command, execute);
    generated.set(command.name, cls);
    cli.register(cls);
  }
  GENERATED.set(cli, generated);
  for (const probe of probeCommands()) cli.register(probe);
  cli.register(manifestCommand(plan));
  if ([...plan.commands.values()].some((c) => c.server === 'http')) cli.register(openApiCommand(plan, complete));
  return cli;
}

/**
 * Parses argv and runs the command. Usage errors (unknown command, bad or
 * missing options) print the message and usage to stderr and return 2.
 */
export async function runCli(cli: Cli, argv: readonly string[], io: Io, plan?: AppPlan): Promise<number> {
  const colored = io.colors ?? false;
  const context = { ...Cli.defaultContext, stdout: io.stdout, stderr: io.stderr, colorDepth: colored ? 8 : 1 };
  if (argv.length === 0) {
    io.stderr.write(`${cli.usage(null, { colored })}\nA command is required.\n`);
    return 2;
  }
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    // What clipanion's help command prints, without compiling its parser for every command first
    // (~5 ms of a cold `--help`: bench cold-start).
    io.stdout.write(cli.usage(null, { colored }));
    return 0;
  }
  let command: Command | undefined;
  try {
    command = cli.process([...argv], context as never);
    if (!command.help) validateValues(command);
  } catch (error) {
    // clipanion reports a missing required option as "Command not found": name the option instead.
    const named = command ? undefined : commandOf(plan, argv);
    const missing = named && missingRequired(named, argv);
    const generated = missing && GENERATED.get(cli)?.get(named.name);
    if (generated) command = new generated() as Command;
    // A bad value shows its own command's usage, as clipanion's own option errors do.
    io.stderr.write(cli.error(missing ?? error, { colored, command: command ?? null }));
    return 2;
  }
  const code = await cli.run(command, context as never);
  return code;
}

function versionCommand(plan: AppPlan): CommandClass {
  return class extends Command {
    static override paths = [['--version'], ['-v']];
    async execute(): Promise<number> {
      this.context.stdout.write(`${appVersion(plan.version) ?? 'unknown'}\n`);
      return 0;
    }
  };
}

function commandClass(plan: CommandPlan, execute: Execute): CommandClass {
  const Generated = class extends Command {
    static override paths = [plan.name.split(' ')];
    static [PLAN] = plan;
    static [VALUE_NAMES] = Object.fromEntries(
      plan.options.flatMap((o) => (o.valueName && !o.positional ? [[o.flag, o.valueName]] : [])),
    );
    static override usage = Command.Usage({
      category: plan.server ? 'Servers' : 'Tasks',
      description: plan.description ?? (plan.server ? `run the ${plan.server} server` : undefined),
    });

    constructor() {
      super();
      // clipanion reads option definitions from instance properties.
      for (const option of plan.options) (this as unknown as Record<string, unknown>)[option.property] = define(option);
    }

    [VALUES](): Record<string, unknown> {
      const self = this as unknown as Record<string, unknown>;
      return Object.fromEntries(plan.options.map((o) => [o.property, convert(o, self[o.property])]));
    }

    async execute(): Promise<number> {
      return execute(plan, this[VALUES]());
    }
  };
  Object.defineProperty(Generated, 'name', { value: `${plan.cls.name}Cli` });
  return Generated;
}

function define(option: OptionPlan): unknown {
  if (option.positional) return Option.String({ required: option.required, name: option.flag });
  const base = { description: option.description, required: option.required };
  switch (option.type) {
    case 'boolean':
      return Option.Boolean(option.flag, { description: option.description, required: option.required } as never);
    case 'array':
      return Option.Array(option.flag, base as never);
    default:
      return Option.String(option.flag, base as never);
  }
}

function convert(option: OptionPlan, raw: unknown): unknown {
  if (option.type !== 'number' || raw === undefined) return raw;
  return raw === '' ? Number.NaN : Number(raw);
}

/** Checks what clipanion leaves as strings; throws a UsageError naming the flag. */
function validateValues(command: Command): void {
  const plan = (command.constructor as { [PLAN]?: CommandPlan })[PLAN];
  if (!plan) return;
  const self = command as unknown as Record<string, unknown>;
  for (const option of plan.options) {
    if (option.type !== 'number' || self[option.property] === undefined) continue;
    if (!Number.isFinite(convert(option, self[option.property]))) {
      throw new UsageError(
        `Invalid value for ${option.flag}: expected a number, got ${JSON.stringify(self[option.property])}`,
      );
    }
  }
}

/** The command argv names (its path's words first), the longest path winning. */
function commandOf(plan: AppPlan | undefined, argv: readonly string[]): CommandPlan | undefined {
  let found: CommandPlan | undefined;
  for (const command of plan?.commands.values() ?? []) {
    const path = command.name.split(' ');
    if (path.every((word, i) => argv[i] === word) && path.length > (found?.name.split(' ').length ?? 0))
      found = command;
  }
  return found;
}

/** The usage error for `app <command>` run without one of its required options, if that is what went wrong. */
function missingRequired(command: CommandPlan, argv: readonly string[]): UsageError | undefined {
  const given = new Set(argv.slice(command.name.split(' ').length).map((arg) => arg.split('=', 1)[0]));
  const absent = command.options.filter(
    (o) => o.required && !o.positional && !o.flag.split(',').some((name) => given.has(name)),
  );
  if (absent.length === 0) return undefined;
  const flags = absent.map((o) => o.flag.split(',').at(-1)).join(', ');
  return new UsageError(`${command.name}: missing required option${absent.length > 1 ? 's' : ''} ${flags}`);
}
