import type { HttpMethod, ParamRecord, ServerKind } from '../../decorators/metadata.js';
import { merged } from './records.js';
import type { Class, ControllerPlan, GrpcMethodPlan, GrpcServicePlan, ParamPlan, RoutePlan } from './types.js';

/** Plans of the http and grpc parts of a command: controllers and their routes, gRPC services and their methods. */

export function planControllers(
  command: Class,
  server: ServerKind | undefined,
  listed: unknown,
  problems: string[],
): ControllerPlan[] {
  if (listed === undefined) return [];
  if (server !== 'http') {
    problems.push(
      `${command.name}: controllers are served only by an http command; this command's server is ${server ?? 'none (a task)'}.`,
    );
    return [];
  }
  if (!Array.isArray(listed)) {
    problems.push(
      `${command.name}: @Command controllers must be an array of @Controller classes, or a function returning them (loaded when the command runs).`,
    );
    return [];
  }
  const seen = new Map<string, string>();
  const plans: ControllerPlan[] = [];
  for (const [index, cls] of listed.entries()) {
    if (typeof cls !== 'function') {
      problems.push(`${command.name}: controllers[${index}] is ${String(cls)}, not a class.`);
      continue;
    }
    const record = merged(cls, problems);
    if (!record.controller) {
      problems.push(`${cls.name}: listed in controllers but has no @Controller(prefix) decorator.`);
      continue;
    }
    const { prefix, options } = record.controller;
    if (typeof prefix !== 'string' || (prefix !== '' && !prefix.startsWith('/'))) {
      problems.push(`${cls.name}: @Controller prefix ${JSON.stringify(prefix)} must be empty or start with '/'.`);
      continue;
    }
    const routes: RoutePlan[] = [];
    for (const route of record.routes) {
      const name = `${cls.name}.${route.handler}`;
      if (typeof route.path !== 'string' || (route.path !== '' && !route.path.startsWith('/'))) {
        problems.push(`${name}: route path ${JSON.stringify(route.path)} must be empty or start with '/'.`);
        continue;
      }
      const path = joinPath(prefix, route.path);
      const key = `${route.method} ${path}`;
      const first = seen.get(key);
      if (first) {
        problems.push(`${name}: ${key} is already served by ${first}; each method and path has one handler.`);
        continue;
      }
      seen.set(key, name);
      routes.push({
        method: route.method,
        path,
        handler: route.handler,
        name,
        middleware: route.options.middleware ?? [],
        status: route.options.status,
        params: planParams(cls, route.handler, route.method, record.params ?? [], problems),
        response: responseSchema(name, route.options.response, problems),
      });
    }
    if (routes.length === 0 && record.routes.length === 0) {
      problems.push(
        `${cls.name}: a controller without routes; decorate methods with @Get, @Post, @Put, @Patch or @Delete.`,
      );
    }
    plans.push({ cls: cls as Class, prefix, middleware: options.middleware ?? [], routes });
  }
  return plans;
}

export function planServices(
  command: Class,
  server: ServerKind | undefined,
  listed: unknown,
  problems: string[],
): GrpcServicePlan[] {
  if (listed === undefined) return [];
  if (server !== 'grpc') {
    problems.push(
      `${command.name}: services are served only by a grpc command; this command's server is ${server ?? 'none (a task)'}.`,
    );
    return [];
  }
  if (!Array.isArray(listed)) {
    problems.push(
      `${command.name}: @Command services must be an array of @GrpcService classes, or a function returning them (loaded when the command runs).`,
    );
    return [];
  }
  const plans: GrpcServicePlan[] = [];
  const seen = new Map<string, string>();
  for (const [index, cls] of listed.entries()) {
    if (typeof cls !== 'function') {
      problems.push(`${command.name}: services[${index}] is ${String(cls)}, not a class.`);
      continue;
    }
    const record = merged(cls, problems);
    if (!record.grpcService) {
      problems.push(`${cls.name}: listed in services but has no @GrpcService(definition) decorator.`);
      continue;
    }
    const definition = record.grpcService.definition as Record<string, unknown>;
    const methods: GrpcMethodPlan[] = [];
    for (const [name, value] of Object.entries(definition ?? {})) {
      const m = value as { path?: unknown; requestStream?: unknown; responseStream?: unknown } | null;
      if (!m || typeof m.path !== 'string') continue;
      if (typeof (cls.prototype as Record<string, unknown>)[name] !== 'function') {
        problems.push(`${cls.name}.${name}: the service definition has ${m.path} but the class has no ${name} method.`);
        continue;
      }
      methods.push({
        name,
        path: m.path,
        requestStream: m.requestStream === true,
        responseStream: m.responseStream === true,
      });
    }
    if (methods.length === 0) {
      problems.push(
        `${cls.name}: @GrpcService needs a ts-proto service definition (outputServices=grpc-js) with methods.`,
      );
      continue;
    }
    const service = (methods[0]?.path.split('/')[1] ?? '') as string;
    const first = seen.get(service);
    if (first) {
      problems.push(`${cls.name}: service ${service} is already served by ${first}.`);
      continue;
    }
    seen.set(service, cls.name);
    plans.push({ cls: cls as Class, service, definition, methods });
  }
  return plans;
}

function joinPath(prefix: string, path: string): string {
  const joined = `${prefix.replace(/\/+$/, '')}${path}`;
  return joined === '' ? '/' : joined;
}

/**
 * The arguments of a route method with parameter decorators, in order. Every
 * parameter needs one (the framework cannot guess the others), a schema must
 * be a Standard Schema, and a body belongs to methods that carry one.
 */
function planParams(
  cls: Function,
  method: string,
  verb: HttpMethod,
  records: readonly ParamRecord[],
  problems: string[],
): ParamPlan[] {
  const mine = records.filter((r) => r.method === method);
  if (mine.length === 0) return [];
  const name = `${cls.name}.${method}`;
  const arity = Math.max(
    (cls.prototype as Record<string, Function>)[method]?.length ?? 0,
    ...mine.map((r) => r.index + 1),
  );
  const params: ParamPlan[] = [];
  for (let index = 0; index < arity; index++) {
    const found = mine.filter((r) => r.index === index);
    if (found.length !== 1) {
      problems.push(
        found.length === 0
          ? `${name}: parameter ${index + 1} has no parameter decorator; once one parameter has @Param, @Query, @Headers, @Body or @Ctx, every parameter needs one.`
          : `${name}: parameter ${index + 1} has ${found.map((r) => `@${r.decorator}`).join(' and ')}; give it one parameter decorator.`,
      );
      continue;
    }
    const record = found[0] as ParamRecord;
    if (record.schema !== undefined && !isStandardSchema(record.schema)) {
      problems.push(
        `${name}: the schema of @${record.decorator} (parameter ${index + 1}) is not a Standard Schema; pass a zod, valibot, arktype or other Standard Schema validator.`,
      );
      continue;
    }
    if (record.source === 'body' && (verb === 'GET' || verb === 'DELETE')) {
      problems.push(`${name}: @Body on a ${verb} route, whose requests carry no body; read @Query or @Param instead.`);
      continue;
    }
    params.push({ source: record.source, name: record.name, schema: record.schema as ParamPlan['schema'] });
  }
  return params;
}

function isStandardSchema(value: unknown): boolean {
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.['~standard'];
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function';
}

function responseSchema(route: string, schema: unknown, problems: string[]): ParamPlan['schema'] {
  if (schema === undefined) return undefined;
  if (isStandardSchema(schema)) return schema as ParamPlan['schema'];
  problems.push(`${route}: the response schema is not a Standard Schema; pass a zod, valibot, arktype or other one.`);
  return undefined;
}
