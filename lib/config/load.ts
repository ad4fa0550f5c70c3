import { isAbsolute, relative } from 'node:path';
import { DionysusError } from '../errors.js';
import type { HookSet } from '../plan/types.js';
import { type FrameworkSettings, frameworkDefaults } from './defaults.js';
import { isPlainObject, lookup, mergeDeep, RULES, validateSection } from './validate.js';

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
  ['DIONYSUS_CONTROL_TOKEN', 'admin.controlToken'],
];

/** Where a key of the config handed to `execute`/`runCommand` (not a file) is said to come from. */
export const GIVEN_SOURCE = 'the config option';

/**
 * Loads node-config (config/default.json, config/{NODE_ENV}.json,
 * NODE_CONFIG, NODE_CONFIG_DIR), applies the framework's environment
 * overrides and `given` (the whole tree: the app's keys and `dionysus`,
 * e.g. a test's), and validates every `dionysus` key. node-config reads
 * its sources once per process; `given` is this call's alone: nothing
 * global is changed, so two runs in one process each see their own.
 * Throws one error naming each bad key, its value and where it came from.
 */
export function loadConfiguration(
  env: NodeJS.ProcessEnv = process.env,
  given?: unknown,
  stopHooks: readonly StopHook[] = [],
): LoadedConfig {
  // An app without a config folder runs on defaults, without node-config's warning.
  if (process.env.SUPPRESS_NO_CONFIG_WARNING === undefined) process.env.SUPPRESS_NO_CONFIG_WARNING = 'true';
  // node-config reads NODE_CONFIG from the process's environment: checked first, as it would only warn and drop it.
  const inline = nodeConfigProblem(process.env.NODE_CONFIG);
  if (inline) throw invalid([`NODE_CONFIG: ${inline} (from the environment)`]);
  const config = require('config') as NodeConfig;
  const values = mergeDeep(config.util.toObject(config), given);
  const sources = config.util.getConfigSources();
  const sourceOf = (key: string): string | undefined => {
    if (lookup(given, key) !== undefined) return GIVEN_SOURCE;
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
    // A key given for this run beats the process's environment, as it beats the files.
    if (lookup(given, `dionysus.${key}`) !== undefined) continue;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = key.endsWith('.port') ? (/^\d+$/.test(raw) ? Number(raw) : raw) : raw;
    const problem = RULES[key]?.(value);
    if (problem) messages.push(`${name}: ${JSON.stringify(raw)} ${problem} (from the environment)`);
    else settings = mergeDeep(settings, nest(key, value));
  }
  messages.push(...crossKeyProblems(settings, sourceOf));
  // `section` holds what the files, NODE_CONFIG and `given` set: a default deadline is not refused, a set one is.
  const hooksSet = lookup(section, 'hooks.timeoutMs') !== undefined;
  messages.push(...budgetProblems(settings, stopHooks, hooksSet, sourceOf));
  if (messages.length > 0) throw invalid(messages);
  return { settings, values, sourceOf };
}

function invalid(messages: readonly string[]): DionysusError {
  return new DionysusError('config', `invalid configuration:\n${messages.map((m) => `  - ${m}`).join('\n')}`, {
    expose: true,
  });
}

/** What is wrong with the NODE_CONFIG variable, or undefined: it must hold a JSON object. */
function nodeConfigProblem(text: string | undefined): string | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `is not valid JSON (${(error as Error).message})`;
  }
  if (!isPlainObject(parsed)) {
    const what = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    return `is JSON but ${what}, not an object like {"dionysus":{"http":{"port":8080}}}`;
  }
  return undefined;
}

/** Settings that are each valid but cannot work together. */
function crossKeyProblems(settings: FrameworkSettings, sourceOf: (key: string) => string | undefined): string[] {
  const from = (key: string): string => sourceOf(`dionysus.${key}`) ?? 'the defaults';
  const problems: string[] = [];
  // The drain delay is spent inside the shutdown budget: one not shorter than the budget fails every stop.
  const { drainDelayMs, timeoutMs } = settings.shutdown;
  if (typeof drainDelayMs === 'number' && typeof timeoutMs === 'number' && drainDelayMs >= timeoutMs) {
    problems.push(
      `dionysus.shutdown.drainDelayMs (${drainDelayMs} ms) leaves no time to drain within dionysus.shutdown.timeoutMs (${timeoutMs} ms); the budget includes the delay, so raise the budget or shorten the delay (drainDelayMs from ${from('shutdown.drainDelayMs')}, timeoutMs from ${from('shutdown.timeoutMs')})`,
    );
  }
  // node:http refuses a headers timeout longer than the whole request's.
  const { headersTimeoutMs, requestTimeoutMs } = settings.http;
  if (
    typeof headersTimeoutMs === 'number' &&
    typeof requestTimeoutMs === 'number' &&
    headersTimeoutMs > requestTimeoutMs
  ) {
    problems.push(
      `dionysus.http.headersTimeoutMs (${headersTimeoutMs} ms) is longer than dionysus.http.requestTimeoutMs (${requestTimeoutMs} ms), which includes the headers; shorten it or raise requestTimeoutMs (headersTimeoutMs from ${from('http.headersTimeoutMs')}, requestTimeoutMs from ${from('http.requestTimeoutMs')})`,
    );
  }
  return problems;
}

/** A Shutdown or PostRun hook of the command about to run: it runs within the shutdown budget after a signal. */
export interface StopHook {
  /** `Class.method` */
  readonly name: string;
  /** Its own deadline, if declared. */
  readonly timeoutMs?: number | undefined;
}

/** Main's and the command's Shutdown and PostRun hooks: those that run within the budget. */
export function stopHooksOf(plan: { readonly hooks: HookSet }, command: { readonly hooks: HookSet }): StopHook[] {
  return [plan.hooks, command.hooks].flatMap((hooks) => [...hooks.shutdown, ...hooks.postrun]);
}

/**
 * Deadlines that cannot fit in the shutdown budget: after the drain delay,
 * the drain, Shutdown and PostRun hooks share what is left of it. A hook's
 * declared `timeoutMs`, and `dionysus.hooks.timeoutMs` when configured, must
 * fit in that; the default deadline is cut to what is left instead.
 */
function budgetProblems(
  settings: FrameworkSettings,
  hooks: readonly StopHook[],
  hooksConfigured: boolean,
  sourceOf: (key: string) => string | undefined,
): string[] {
  const { drainDelayMs, timeoutMs } = settings.shutdown;
  const hookMs = settings.hooks.timeoutMs;
  // A value already refused on its own, or a delay that leaves nothing, is reported once, as such.
  const refused = ['shutdown.drainDelayMs', 'shutdown.timeoutMs', 'hooks.timeoutMs'].some((key) =>
    RULES[key]?.(lookup(settings, key)),
  );
  if (refused || drainDelayMs >= timeoutMs) return [];
  const left = timeoutMs - drainDelayMs;
  const budget = `dionysus.shutdown.timeoutMs (${timeoutMs} ms, from ${sourceOf('dionysus.shutdown.timeoutMs') ?? 'the defaults'}) leaves ${left} ms after the drain delay of ${drainDelayMs} ms for the drain, the Shutdown and the PostRun hooks`;
  const problems: string[] = [];
  if (hooksConfigured && typeof hookMs === 'number' && hookMs > left) {
    problems.push(
      `dionysus.hooks.timeoutMs (${hookMs} ms, from ${sourceOf('dionysus.hooks.timeoutMs') ?? 'the settings'}) cannot fit in the shutdown budget: ${budget}; lower it or raise dionysus.shutdown.timeoutMs`,
    );
  }
  for (const hook of hooks) {
    if (hook.timeoutMs !== undefined && hook.timeoutMs > left) {
      problems.push(
        `${hook.name}: timeoutMs ${hook.timeoutMs} ms cannot fit in the shutdown budget: ${budget}; lower the hook's timeoutMs or raise dionysus.shutdown.timeoutMs`,
      );
    }
  }
  return problems;
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
