import type { Container } from 'inversify';
import { DionysusError } from '../errors.js';
import { lookup } from './validate.js';

/**
 * The app's configuration (node-config), injectable by type.
 * @example
 * constructor(private readonly config: AppConfig) {}
 * const url = this.config.get<string>('db.url');
 */
export class AppConfig {
  readonly #values: Record<string, unknown>;
  readonly #sourceOf: (key: string) => string | undefined;

  // Every parameter has a default, so the planner accepts the class as a constructor dependency of
  // user classes (it has no type metadata to walk); the config step binds the loaded instance per run.
  constructor(values: Record<string, unknown> = {}, sourceOf: (key: string) => string | undefined = () => undefined) {
    this.#values = values;
    this.#sourceOf = sourceOf;
  }

  /** The value at a dotted key; throws naming the key when it is not set. */
  get<T = unknown>(key: string): T {
    const value = this.#lookup(key);
    if (value === undefined) {
      throw new DionysusError(
        'config',
        `config key '${key}' is not set; add it to config/default.json, config/<NODE_ENV>.json or NODE_CONFIG`,
      );
    }
    return value as T;
  }

  has(key: string): boolean {
    return this.#lookup(key) !== undefined;
  }

  /** The file (or `$NODE_CONFIG`) that last set the key, for messages. */
  sourceOf(key: string): string | undefined {
    return this.#sourceOf(key);
  }

  #lookup(key: string): unknown {
    return lookup(this.#values, key);
  }
}

const requested = new Set<string>();

/** The container token of a config key, for `@inject` users. */
export function configToken(key: string): symbol {
  return Symbol.for(`dionysus.config:${key}`);
}

/**
 * Binds `AppConfig` and every key some class asked for with `@InjectConfig`
 * to this configuration, replacing earlier bindings (a container can serve
 * several runs). A key nobody set fails when a class asks for it, naming it.
 */
export function bindConfiguration(container: Container, config: AppConfig): void {
  for (const token of [AppConfig, ...[...requested].map(configToken)]) {
    if (container.isBound(token)) container.unbind(token);
  }
  container.bind(AppConfig).toConstantValue(config);
  for (const key of requested) container.bind(configToken(key)).toDynamicValue(() => config.get(key));
}

/**
 * Injects the value (or section) at a dotted config key.
 * @example
 * constructor(@InjectConfig('db') private readonly db: { url: string }) {}
 */
export function InjectConfig(key: string): ParameterDecorator & PropertyDecorator {
  return (target: object, property: string | symbol | undefined, index?: number) => {
    requested.add(key);
    // inversify loads with the app, never on the probe path.
    const { inject } = require('inversify') as typeof import('inversify');
    (inject(configToken(key)) as (t: object, p: string | symbol | undefined, i?: number) => void)(
      target,
      property,
      index,
    );
  };
}
