import type { StandardSchemaV1 } from '@standard-schema/spec';
import { type ParamSource, updateRecord } from './metadata.js';

/** A parameter decorator of a controller method. */
export type ParamDecorator = (target: object, key: string | symbol | undefined, index: number) => void;

/**
 * The type a schema validates to, for the handler's parameter:
 * `@Body(CreateTodo) todo: Infer<typeof CreateTodo>`.
 */
export type Infer<S extends StandardSchemaV1> = StandardSchemaV1.InferOutput<S>;

function param(decorator: string, source: ParamSource, name: string | undefined, schema: unknown): ParamDecorator {
  return (target, key, index) => {
    const ctor = (typeof target === 'function' ? target : target.constructor) as Function;
    updateRecord(ctor, (record) => {
      if (key === undefined || typeof target === 'function' || typeof key === 'symbol') {
        record.problems.push(
          `${ctor.name}${key === undefined ? '' : `.${String(key)}`}: @${decorator} is on a constructor or static method parameter; use it on a controller method's parameter.`,
        );
        return;
      }
      (record.params ??= []).push({ method: key, index, source, name, schema, decorator });
    });
  };
}

/** `(name?, schema?)` or `(schema)`: a first argument that is not a string is the schema. */
function split(nameOrSchema: unknown, schema: unknown): [string | undefined, unknown] {
  if (typeof nameOrSchema === 'string' || nameOrSchema === undefined) return [nameOrSchema, schema];
  return [undefined, nameOrSchema];
}

/**
 * A path parameter (`@Param('id')`), or all of them (`@Param()`), validated
 * by the schema when one is given; strings are coerced to numbers or
 * booleans when the schema wants them.
 * @example
 * @Get('/:id') find(@Param('id', z.number().int()) id: number) {}
 */
export function Param(name?: string, schema?: StandardSchemaV1): ParamDecorator;
export function Param(schema: StandardSchemaV1): ParamDecorator;
export function Param(nameOrSchema?: string | StandardSchemaV1, schema?: StandardSchemaV1): ParamDecorator {
  return param('Param', 'path', ...split(nameOrSchema, schema));
}

/**
 * A query parameter (`@Query('limit')`; repeated ones are an array), or the
 * whole query object (`@Query()`), validated by the schema when one is given.
 * @example
 * @Get() list(@Query('limit', z.number().max(100).default(20)) limit: number) {}
 */
export function Query(name?: string, schema?: StandardSchemaV1): ParamDecorator;
export function Query(schema: StandardSchemaV1): ParamDecorator;
export function Query(nameOrSchema?: string | StandardSchemaV1, schema?: StandardSchemaV1): ParamDecorator {
  return param('Query', 'query', ...split(nameOrSchema, schema));
}

/**
 * A request header by name (case-insensitive; undefined when absent), or all
 * of them (`@Headers()`), validated by the schema when one is given.
 */
export function Headers(name?: string, schema?: StandardSchemaV1): ParamDecorator;
export function Headers(schema: StandardSchemaV1): ParamDecorator;
export function Headers(nameOrSchema?: string | StandardSchemaV1, schema?: StandardSchemaV1): ParamDecorator {
  const [name, s] = split(nameOrSchema, schema);
  return param('Headers', 'header', name?.toLowerCase(), s);
}

/**
 * The parsed JSON body (undefined when there is none), validated by the
 * schema when one is given.
 * @example
 * @Post() create(@Body(CreateTodo) todo: Infer<typeof CreateTodo>) {}
 */
export function Body(schema?: StandardSchemaV1): ParamDecorator {
  return param('Body', 'body', undefined, schema);
}

/** koa's context, for what the other decorators do not cover (the escape hatch). */
export function Ctx(): ParamDecorator {
  return param('Ctx', 'ctx', undefined, undefined);
}
