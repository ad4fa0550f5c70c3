import { isAbsolute, relative } from 'node:path';
import { DionysusError } from '../errors.js';
import { type FrameworkSettings, frameworkDefaults } from './defaults.js';
import { lookup, mergeDeep, RULES, validateSection } from './validate.js';

interface ConfigSource {
  name: string;
  parsed: unknown;
}

/** The node-config singleton, as much of it as we use. */
interface NodeConfig {
  has(key: string): boolean;
  get<T>(key: string): T;
  util: { getConfigSources(): ConfigSource[]; toObject(value?: unknown): Record<string, unknown> };
}

export interface LoadedConfig {
  readonly settings: FrameworkSettings;
  /** All configuration, the user's keys and `dionysus`, as plain data. */
  readonly values: Record<string, unknown>;
  /** Where a dotted key was last set: a file, `$NODE_CONFIG`, or undefined for defaults. */
  sourceOf(key: string): string | undefined;
}

/** Environment variables the framework honours over configuration files, and the key each sets. */
export const ENV_OVERRIDES: readonly (readonly [string, string])[] = [
  ['HTTP_PORT', 'http.port'],
  ['GRPC_PORT', 'grpc.port'],
  ['ADMIN_PORT', 'admin.port'],
  ['LOG_LEVEL', 'log.level'],
  ['DIONYSUS_RUNTIME_DIR', 'runtimeDir'],
  ['DIONYSUS_CONTROL_TOKEN', 'http.controlToken'],
  ['DIONYSUS_CONTROL_TOKEN', 'grpc.controlToken'],
];

/**
 * Loads node-config (config/default.json, config/{NODE_ENV}.json,
 * NODE_CONFIG, NODE_CONFIG_DIR), applies the framework's environment
 * overrides and validates every `dionysus` key. Throws one error naming each
 * bad key, its value and where it came from.
 */
export function loadConfiguration(env: NodeJS.ProcessEnv = process.env, overrides?: unknown): LoadedConfig {
  // An app without a config folder runs on defaults, without node-config's warning.
  if (process.env.SUPPRESS_NO_CONFIG_WARNING === undefined) process.env.SUPPRESS_NO_CONFIG_WARNING = 'true';
  const config = require('config') as NodeConfig;
  const values = config.util.toObject(config);
  const sources = config.util.getConfigSources();
  const sourceOf = (key: string): string | undefined => {
    for (let i = sources.length - 1; i >= 0; i--) {
      const source = sources[i] as ConfigSource;
      if (lookup(source.parsed, key) !== undefined) {
        return source.name.startsWith('$') ? source.name : displayPath(source.name);
      }
    }
    return undefined;
  };

  const section = values.dionysus;
  const messages = validateSection(section).map(
    ({ key, value, problem }) =>
      `dionysus.${key}: ${JSON.stringify(value)} ${problem} (from ${sourceOf(`dionysus.${key}`) ?? 'configuration'})`,
  );
  let settings = mergeDeep(frameworkDefaults(env), section);
  for (const [name, key] of ENV_OVERRIDES) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = key.endsWith('.port') ? (/^\d+$/.test(raw) ? Number(raw) : raw) : raw;
    const problem = RULES[key]?.(value);
    if (problem) messages.push(`${name}: ${JSON.stringify(raw)} ${problem} (from the environment)`);
    else settings = mergeDeep(settings, nest(key, value));
  }
  if (messages.length > 0) {
    throw new DionysusError('config', `invalid configuration:\n${messages.map((m) => `  - ${m}`).join('\n')}`, {
      expose: true,
    });
  }
  return { settings: mergeDeep(settings, overrides), values, sourceOf };
}

function nest(key: string, value: unknown): Record<string, unknown> {
  return key
    .split('.')
    .reverse()
    .reduce<unknown>((inner, part) => ({ [part]: inner }), value) as Record<string, unknown>;
}

/** A config file as its reader knows it: relative to the working directory when inside it, else absolute. */
function displayPath(file: string): string {
  const path = relative(process.cwd(), file);
  // A NODE_CONFIG_DIR outside the working directory would read as `../../…`.
  return path && !path.startsWith('..') && !isAbsolute(path) ? path : file;
}
