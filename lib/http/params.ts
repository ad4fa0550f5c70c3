import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Context } from 'koa';
import type { ParamPlan } from '../plan/types.js';
import { type RequestIssue, RequestValidationError } from './errors.js';

type Issues = RequestIssue[];
/** One argument: its value, or the issues that rejected it (sync, or async for an async schema). */
type Outcome = { value: unknown } | { issues: Issues };
type Argument = (ctx: Context) => Outcome | Promise<Outcome>;

/**
 * The arguments of a route method with parameter decorators, built once per
 * route (validators prepared here, never per request). Resolves to the
 * argument list, or throws a RequestValidationError listing every issue of
 * every parameter; synchronous unless a schema validates asynchronously.
 */
export function routeArguments(params: readonly ParamPlan[]): (ctx: Context) => unknown[] | Promise<unknown[]> {
  // Nothing to validate (`@Query('name')`): the values as read, costing about what reading them from ctx does.
  if (params.every((p) => !p.schema)) {
    const readers = params.map(reader);
    const [only] = readers;
    if (only && readers.length === 1) return (ctx) => [only(ctx)];
    return (ctx) => readers.map((read) => read(ctx));
  }
  const argument = params.map(prepare);
  return (ctx) => {
    const outcomes = argument.map((a) => a(ctx));
    if (outcomes.some(isPromise)) return Promise.all(outcomes).then(collect);
    return collect(outcomes as Outcome[]);
  };
}

function collect(outcomes: readonly Outcome[]): unknown[] {
  let issues: Issues | undefined;
  const values = outcomes.map((o) => {
    if ('issues' in o) (issues ??= []).push(...o.issues);
    return 'value' in o ? o.value : undefined;
  });
  if (issues) throw new RequestValidationError(issues);
  return values;
}

const IN = { path: 'path', query: 'query', header: 'header', body: 'body' } as const;

function prepare(param: ParamPlan): Argument {
  const read = reader(param);
  const { schema, source } = param;
  if (!schema || source === 'ctx') return (ctx) => ({ value: read(ctx) });
  const where = IN[source];
  const prefix = param.name === undefined ? [] : [param.name];
  const validate = schema['~standard'].validate;
  // Body values are JSON already; path, query and header values are strings the schema may want coerced.
  const coercible = source !== 'body';
  /** Top-level keys (or the value itself, '') that needed coercion last time: tried coerced first. */
  let learned: Set<string> | undefined;
  const fail = (result: StandardSchemaV1.FailureResult): Outcome => ({
    issues: result.issues.map((issue) => ({
      in: where,
      path: [...prefix, ...(issue.path ?? []).map(segment)].join('.'),
      message: issue.message,
    })),
  });
  /** The raw value, else (when the schema rejected strings) with the values it rejected coerced. */
  const fromRaw = (raw: unknown): Outcome | Promise<Outcome> =>
    settle(validate(raw), (result) => {
      if (!result.issues) return { value: result.value };
      const keys = coercible ? rejectedKeys(raw, result) : undefined;
      if (!keys) return fail(result);
      return settle(validate(coerce(raw, keys)), (coerced) => {
        if (coerced.issues) return fail(result);
        learned = keys;
        return { value: coerced.value };
      });
    });
  return (ctx) => {
    const raw = read(ctx);
    const guess = learned;
    if (!guess) return fromRaw(raw);
    // Coerced the same way as last time first: a `z.number()` path parameter validates once per request.
    return settle(validate(coerce(raw, guess)), (result) => (result.issues ? fromRaw(raw) : { value: result.value }));
  };
}

function reader(param: ParamPlan): (ctx: Context) => unknown {
  const { name } = param;
  switch (param.source) {
    case 'ctx':
      return (ctx) => ctx;
    case 'body':
      return (ctx) => (ctx.request as { body?: unknown }).body;
    case 'path':
      return name === undefined ? (ctx) => ({ ...ctx.params }) : (ctx) => ctx.params[name];
    case 'query':
      return name === undefined ? (ctx) => ({ ...ctx.query }) : (ctx) => ctx.query[name];
    case 'header':
      return name === undefined ? (ctx) => ({ ...ctx.req.headers }) : (ctx) => ctx.req.headers[name];
  }
}

/** Which top-level keys the issues point at whose values are strings ('' for a single string value). */
function rejectedKeys(raw: unknown, result: StandardSchemaV1.FailureResult): Set<string> | undefined {
  if (typeof raw === 'string' || Array.isArray(raw)) return coerce(raw, ALL) === raw ? undefined : ALL;
  if (raw === null || typeof raw !== 'object') return undefined;
  const keys = new Set<string>();
  for (const issue of result.issues) {
    const first = issue.path?.[0];
    if (first === undefined) continue;
    const key = String(segment(first));
    const value = (raw as Record<string, unknown>)[key];
    if (coerceValue(value) !== value) keys.add(key);
  }
  return keys.size > 0 ? keys : undefined;
}

const ALL = new Set(['']);

function coerce(raw: unknown, keys: Set<string>): unknown {
  if (typeof raw === 'string' || Array.isArray(raw)) return coerceValue(raw);
  if (raw === null || typeof raw !== 'object') return raw;
  const out = { ...(raw as Record<string, unknown>) };
  for (const key of keys) if (key in out) out[key] = coerceValue(out[key]);
  return out;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** A string (or each string of an array) as the number or boolean it spells; anything else unchanged. */
function coerceValue(value: unknown): unknown {
  if (Array.isArray(value)) {
    const each = value.map(coerceValue);
    return each.some((v, i) => v !== value[i]) ? each : value;
  }
  if (typeof value !== 'string') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return NUMBER.test(value) ? Number(value) : value;
}

function segment(part: PropertyKey | StandardSchemaV1.PathSegment): PropertyKey {
  return typeof part === 'object' && part !== null ? part.key : part;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | undefined)?.then === 'function';
}

function settle<T, U>(value: T | Promise<T>, then: (value: T) => U | Promise<U>): U | Promise<U> {
  return isPromise(value) ? (value as Promise<T>).then(then) : then(value as T);
}
