/**
 * What the integrations (`dionysus/sql`, `dionysus/redis`, `dionysus/pool`)
 * share for their named instances: the container token of instance `name`
 * and the decorator that injects it. Loads nothing: inversify is required
 * when a class is decorated, which only happens with the app.
 */

/** The kinds of named instances, each under `dionysus.<kind>.<name>` in configuration. */
export type IntegrationKind = 'sql' | 'redis' | 'pool';

/** The container token of instance `name` of `kind`, e.g. `Symbol.for('dionysus.sql:main')`. */
export function namedToken(kind: IntegrationKind, name: string): symbol {
  return Symbol.for(`dionysus.${kind}:${name}`);
}

/** A parameter and property decorator injecting instance `name` of `kind`. */
export function injectNamed(kind: IntegrationKind, name: string): ParameterDecorator & PropertyDecorator {
  return (target: object, property: string | symbol | undefined, index?: number) => {
    const { inject } = require('inversify') as typeof import('inversify');
    (inject(namedToken(kind, name)) as (t: object, p: string | symbol | undefined, i?: number) => void)(
      target,
      property,
      index,
    );
  };
}
