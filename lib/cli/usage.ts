import { Cli, type Command, type CommandClass, formatMarkdownish } from 'clipanion';

/** On a command class: the value name of an option, by its flag as declared (`--image` → `IMAGE`). */
export const VALUE_NAMES = Symbol('valueNames');

type Usage = ReturnType<Cli['getUsageByIndex']>;
type UsageOptions = Parameters<Cli['getUsageByIndex']>[1];
type Registration = Cli['registrations'] extends Map<unknown, infer R> ? R : never;
type UsageOf = NonNullable<Parameters<Cli['usage']>[1]>;

/**
 * clipanion with readable usage: an option's value is named (`--image IMAGE`,
 * where clipanion prints `--image #0`), and a command's own help lists its
 * required options in its usage line and marks them `(required)`.
 */
export class AppCli extends Cli {
  /**
   * The listing of every command (`app --help`, `app` alone) as clipanion
   * writes it, sorted without `localeCompare`: its first call loads ICU's
   * collator, ~7 ms of a cold `--help` (bench cold-start, target ≤ 1.25× the
   * dependency floor). A command's own help is clipanion's.
   */
  override usage(command: CommandClass | Command | null = null, options: UsageOf = {}): string {
    // clipanion's default commands: no static paths (or paths on the instance), none, or an empty one.
    const isDefault = (cls: CommandClass): boolean =>
      !cls.paths || cls.paths.length === 0 || cls.paths.some((path) => path.length === 0);
    if (command !== null || [...this.registrations.keys()].some(isDefault)) {
      return super.usage(command, options);
    }
    const { colored, prefix = '$ ' } = options;
    const format = this.format(colored);
    const inline = (text: string): string => formatMarkdownish(text, { format, paragraphs: false });
    const categories = new Map<string | null, { cls: CommandClass; usage: string }[]>();
    for (const [cls, { index }] of this.registrations) {
      if (cls.usage === undefined) continue;
      const category = cls.usage.category === undefined ? null : inline(cls.usage.category);
      const listed = categories.get(category) ?? [];
      categories.set(category, listed);
      listed.push({ cls, usage: this.getUsageByIndex(index).usage });
    }
    const names = [...categories.keys()].sort((a, b) => (a === null ? -1 : b === null ? 1 : collate(a, b)));
    const label = [this.binaryLabel, this.binaryVersion].filter((part) => part !== undefined).join(' - ');
    const both = this.binaryLabel !== undefined && this.binaryVersion !== undefined;
    let text = label === '' ? '' : `${format.header(label)}\n${both ? '\n' : ''}  `;
    text += `${format.bold(prefix)}${this.binaryName} <command>\n`;
    for (const name of names) {
      text += `\n${format.header(name === null ? 'General commands' : name.trim())}\n`;
      const listed = (categories.get(name) ?? []).slice().sort((a, b) => collate(a.usage, b.usage));
      for (const { cls, usage } of listed) {
        text += `\n  ${format.bold(usage)}\n    ${inline(cls.usage?.description || 'undocumented')}`;
      }
    }
    return `${text}\n${formatMarkdownish(
      'You can also print more details about any of these commands by calling them with the `-h,--help` flag right after the command name.',
      { format, paragraphs: true },
    )}`;
  }

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

/** Printable ASCII and white space by primary weight in ICU's root collation (what `localeCompare(…, 'en')` uses); a letter's two cases weigh the same. */
const PRIMARY = '\t\n\v\f\r _-,;:!?.\'"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz';
const RANK = new Uint8Array(128);
for (let i = 0; i < PRIMARY.length; i++) {
  RANK[PRIMARY.charCodeAt(i)] = i + 1;
  RANK[(PRIMARY[i] as string).toUpperCase().charCodeAt(0)] = i + 1;
}
const PRINTABLE = /^[\t-\r\x20-\x7e]*$/;

/**
 * `a.localeCompare(b, 'en', { usage: 'sort', caseFirst: 'upper' })`, clipanion's
 * order for help, without ICU for printable ASCII and white space: letters, digits and
 * punctuation by their primary weight over the whole text, then the first
 * difference of case, upper case first. Other text goes to `localeCompare`.
 */
export function collate(a: string, b: string): number {
  if (!PRINTABLE.test(a) || !PRINTABLE.test(b)) return a.localeCompare(b, 'en', { usage: 'sort', caseFirst: 'upper' });
  const shorter = Math.min(a.length, b.length);
  for (let i = 0; i < shorter; i++) {
    const order = (RANK[a.charCodeAt(i)] as number) - (RANK[b.charCodeAt(i)] as number);
    if (order !== 0) return order;
  }
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < shorter; i++) {
    if (a[i] !== b[i]) return a[i] === a[i]?.toUpperCase() ? -1 : 1;
  }
  return 0;
}
