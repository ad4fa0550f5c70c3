import { Cli, type CommandClass } from 'clipanion';

/** On a command class: the value name of an option, by its flag as declared (`--image` → `IMAGE`). */
export const VALUE_NAMES = Symbol('valueNames');

type Usage = ReturnType<Cli['getUsageByIndex']>;
type UsageOptions = Parameters<Cli['getUsageByIndex']>[1];
type Registration = Cli['registrations'] extends Map<unknown, infer R> ? R : never;

/**
 * clipanion with readable usage: an option's value is named (`--image IMAGE`,
 * where clipanion prints `--image #0`), and a command's own help lists its
 * required options in its usage line and marks them `(required)`.
 */
export class AppCli extends Cli {
  protected override getUsageByIndex(index: number, options?: UsageOptions): Usage {
    const usage = super.getUsageByIndex(index, options);
    for (const [cls, registration] of this.registrations) {
      if (registration.index === index) return readable(cls, registration, usage, options?.inlineOptions === false);
    }
    return usage;
  }
}

function readable(cls: CommandClass, registration: Registration, usage: Usage, listed: boolean): Usage {
  const declared = (cls as { [VALUE_NAMES]?: Record<string, string> })[VALUE_NAMES] ?? {};
  let line = usage.usage;
  const named = new Map<string, string>();
  for (const option of registration.builder.options) {
    const flags = option.names.join(',');
    if (option.hidden || option.arity === 0) continue;
    const value = declared[flags] ?? valueNameOf(option.names);
    named.set(flags, `${flags} ${Array.from({ length: option.arity }, () => value).join(' ')}`);
    line = line.replace(placeholder(flags), named.get(flags) as string);
  }
  const options = usage.options.map((o) => ({
    ...o,
    definition: o.definition.replace(/^(\S+)( #\d+)+$/, (whole, flags: string) => named.get(flags) ?? whole),
    description: o.required ? `${o.description} (required)` : o.description,
  }));
  if (listed) {
    // clipanion leaves every described option out of a command's own usage line: put the required ones back.
    const required = options.filter((o) => o.required).map((o) => o.definition);
    const head = [registration.builder.cliOpts.binaryName, ...(registration.builder.paths[0] ?? [])].join(' ');
    if (required.length > 0 && line.startsWith(head)) line = `${head} ${required.join(' ')}${line.slice(head.length)}`;
  }
  return { usage: line, options };
}

/** `--image` → `IMAGE`, `-n,--dry-run-for` → `DRY_RUN_FOR`: the longest name, upper case. */
function valueNameOf(names: readonly string[]): string {
  const longest = names.reduce((a, b) => (b.length > a.length ? b : a));
  return longest.replace(/^-+/, '').replace(/-/g, '_').toUpperCase();
}

/** `--image #0` as clipanion writes it inline, `[--image #0]` or `<--image #0>`, not inside a longer flag. */
function placeholder(flags: string): RegExp {
  const escaped = flags.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<=^|[\\s[<])${escaped}( #\\d+)+(?=$|[\\s\\]>])`);
}
