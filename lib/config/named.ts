/**
 * Sections of named instances under `dionysus` (`sql.<name>`, `redis.<name>`,
 * `pool.<name>`): one checker for every integration, given its rules by dotted
 * key (`health.intervalMs`), and one reader that merges the layers of an
 * instance's settings and fails naming every bad key and where it came from.
 * Loads no driver: configuration validation requires it.
 */
import { DionysusError } from '../errors.js';
import { isPlainObject, mergeDeep, type SettingProblem, timerRange } from './validate.js';

/** A check of one key: what is wrong with the value, or undefined. */
export type Rule = (value: unknown) => string | undefined;

/** A positive, finite number of milliseconds a timer can wait. */
export const ms: Rule = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? timerRange(v) : 'is not a positive number of milliseconds';
export const flag: Rule = (v) => (typeof v === 'boolean' ? undefined : 'is not true or false');

/** The keys of one kind of instance and how messages call them. */
export interface NamedRules {
  /** By dotted key under `<section>.<name>`. */
  readonly rules: Readonly<Record<string, Rule>>;
  /** What an unknown key is not, e.g. `database setting`. */
  readonly what: string;
  /** What the section holds by name, e.g. `databases`. */
  readonly instances: string;
}

/** Every problem of a section (`{ <name>: { … } }`), keys prefixed with `prefix` (e.g. `sql`). */
export function sectionProblems(section: unknown, prefix: string, named: NamedRules): SettingProblem[] {
  if (!isPlainObject(section)) {
    return [{ key: prefix, value: section, problem: `is not an object of ${named.instances} by name` }];
  }
  return Object.entries(section).flatMap(([name, value]) => instanceProblems(value, `${prefix}.${name}`, named));
}

/** Every problem of one instance's settings, keys prefixed with `prefix` (e.g. `sql.main`). */
export function instanceProblems(value: unknown, prefix: string, named: NamedRules, path = ''): SettingProblem[] {
  const { rules } = named;
  if (!isPlainObject(value)) return [{ key: `${prefix}${path ? `.${path}` : ''}`, value, problem: 'is not an object' }];
  const problems: SettingProblem[] = [];
  for (const [part, inner] of Object.entries(value)) {
    const key = path ? `${path}.${part}` : part;
    const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
    if (rule) {
      const problem = rule(inner);
      if (problem) problems.push({ key: `${prefix}.${key}`, value: inner, problem });
    } else if (Object.keys(rules).some((k) => k.startsWith(`${key}.`))) {
      problems.push(...instanceProblems(inner, prefix, named, key));
    } else {
      const under = path ? `${path}.` : '';
      const known = new Set(
        Object.keys(rules)
          .filter((k) => k.startsWith(under))
          .map((k) => k.slice(under.length).split('.')[0]),
      );
      problems.push({
        key: `${prefix}.${key}`,
        value: inner,
        problem: `is not a ${named.what} (known here: ${[...known].join(', ')})`,
      });
    }
  }
  return problems;
}

/** Configuration as the readers need it: `AppConfig` fits, and so does plain data (`lookup`). */
export interface ConfigReader {
  has(key: string): boolean;
  get<T = unknown>(key: string): T;
  sourceOf?(key: string): string | undefined;
}

/** One layer of an instance's settings, over the ones before it. */
export interface Layer {
  readonly value: unknown;
  /** How a message names a bad key of this layer: `dionysus.sql.main.max: 0 … (from config/default.json)`. */
  describe(problem: SettingProblem): string;
}

/** The layer of `dionysus.<section>.<name>` in the loaded configuration. */
export function configuredLayer(config: ConfigReader | undefined, section: string, name: string): Layer {
  const key = `dionysus.${section}.${name}`;
  return {
    value: config?.has(key) ? config.get(key) : undefined,
    describe: (p) =>
      `dionysus.${p.key}: ${shown(p)} ${p.problem} (from ${config?.sourceOf?.(`dionysus.${p.key}`) ?? 'configuration'})`,
  };
}

/**
 * An instance's settings: `defaults`, then each layer over the ones before
 * (each checked by `named`'s rules). Throws one error naming every bad key,
 * with `extra` problems (across keys) after them.
 */
export function readInstance<T>(
  defaults: T,
  prefix: string,
  named: NamedRules,
  layers: readonly Layer[],
  extra: (settings: T) => readonly string[] = () => [],
): T {
  const messages: string[] = [];
  let settings = defaults;
  for (const layer of layers) {
    if (layer.value === undefined) continue;
    const problems = instanceProblems(layer.value, prefix, named);
    messages.push(...problems.map((p) => layer.describe(p)));
    if (problems.length === 0) settings = mergeDeep(settings, layer.value);
  }
  if (messages.length === 0) messages.push(...extra(settings));
  if (messages.length > 0) throw invalidConfiguration(messages);
  return settings;
}

/** The error of bad settings: each message on its line. */
export function invalidConfiguration(messages: readonly string[]): DionysusError {
  return new DionysusError('config', `invalid configuration:\n${messages.map((m) => `  - ${m}`).join('\n')}`, {
    expose: true,
  });
}

/** A URL as messages may show it: the password replaced by `***`. */
export function redactUrl(value: string): string {
  return value.replace(/\/\/([^:@/]*):[^@/]+@/, '//$1:***@');
}

/** A bad value for a message; a URL's password never shows. */
export function shown(problem: SettingProblem): string {
  const { key, value } = problem;
  return JSON.stringify(typeof value === 'string' && /(^|\.)url$/.test(key) ? redactUrl(value) : value);
}
