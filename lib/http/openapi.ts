import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import type { AppPlan, CommandPlan, ParamPlan, RoutePlan } from '../plan/types.js';
import { PROBE_NAMES } from '../probe/files.js';

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document of an http command: its controllers' routes with
 * the parameters, bodies and responses their schemas describe (through the
 * Standard JSON Schema interface that zod 4 and others implement; a schema
 * without it is documented as any value), the /healthx routes and the error
 * shapes every route can answer.
 */
export function openApiDocument(
  plan: AppPlan,
  command: CommandPlan,
  version = plan.version ?? '0.0.0',
): Record<string, unknown> {
  const paths: Record<string, Record<string, Operation>> = {};
  for (const controller of command.controllers) {
    for (const route of controller.routes) {
      const path = openApiPath(route.path);
      (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
    }
  }
  Object.assign(paths, healthPaths());
  return {
    openapi: '3.1.0',
    info: {
      title: `${plan.name} ${command.name}`,
      version,
      ...((command.description ?? plan.description) ? { description: command.description ?? plan.description } : {}),
    },
    paths,
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'requestId'],
          properties: {
            error: { type: 'string', description: 'what went wrong; the status text for internal errors' },
            requestId: { type: 'string', description: 'the x-request-id of the request' },
            code: { type: 'string', description: 'a stable code, when the handler gave one' },
            details: { description: 'details the handler gave' },
          },
        },
        ValidationError: {
          type: 'object',
          required: ['error', 'requestId', 'issues'],
          properties: {
            error: { type: 'string' },
            requestId: { type: 'string' },
            code: { const: 'VALIDATION_FAILED' },
            issues: {
              type: 'array',
              items: {
                type: 'object',
                required: ['in', 'path', 'message'],
                properties: {
                  in: { enum: ['path', 'query', 'header', 'body'] },
                  path: { type: 'string', description: 'dotted path of the value, e.g. items.0.qty' },
                  message: { type: 'string' },
                },
              },
            },
          },
        },
        HealthReport: {
          type: 'object',
          required: ['probe', 'status', 'gate', 'switch', 'checks'],
          properties: {
            probe: { enum: [...PROBE_NAMES] },
            status: { enum: ['pass', 'fail'] },
            reason: { type: 'string' },
            gate: { enum: ['open', 'closed'] },
            switch: { enum: ['open', 'closed'] },
            checks: {
              type: 'array',
              items: {
                type: 'object',
                required: ['name', 'status', 'durationMs'],
                properties: {
                  name: { type: 'string' },
                  status: { enum: ['pass', 'fail'] },
                  durationMs: { type: 'number' },
                  error: { type: 'string', description: 'only for callers with the control token' },
                },
              },
            },
          },
        },
      },
      securitySchemes: { controlToken: { type: 'http', scheme: 'bearer', description: 'dionysus.http.controlToken' } },
    },
  };
}

/** `/users/:id` → `/users/{id}`. */
function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, '{$1}') || '/';
}

function operation(route: RoutePlan): Operation {
  const parameters = route.params.flatMap(parametersOf);
  // Path parameters the handler reads through ctx are in the path all the same.
  for (const name of route.path.match(/:(\w+)/g)?.map((p) => p.slice(1)) ?? []) {
    if (!parameters.some((p) => p.in === 'path' && p.name === name))
      parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  }
  const body = route.params.find((p) => p.source === 'body');
  const validated = route.params.some((p) => p.schema !== undefined);
  const status = String(route.status ?? 200);
  return {
    operationId: route.name,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body
      ? {
          requestBody: {
            required: body.schema ? !acceptsUndefined(body.schema) : false,
            content: { 'application/json': { schema: body.schema ? jsonSchemaOf(body.schema, 'input') : {} } },
          },
        }
      : {}),
    responses: {
      [status]: {
        description: 'the JSON body the handler returns',
        ...(route.response
          ? { content: { 'application/json': { schema: jsonSchemaOf(route.response, 'output') } } }
          : {}),
      },
      ...(validated || body ? { '400': errorResponse('the request does not validate', 'ValidationError') } : {}),
      '500': errorResponse('an internal error; its message is logged, not sent', 'Error'),
      default: errorResponse('an HttpError the handler threw', 'Error'),
    },
  };
}

function errorResponse(description: string, schema: string): object {
  return { description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } };
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
}

const PLACES = { path: 'path', query: 'query', header: 'header' } as const;

function parametersOf(param: ParamPlan): Parameter[] {
  if (param.source === 'body' || param.source === 'ctx') return [];
  const place = PLACES[param.source];
  if (param.name !== undefined) {
    const required = place === 'path' || (param.schema ? !acceptsUndefined(param.schema) : false);
    return [{ name: param.name, in: place, required, schema: param.schema ? jsonSchemaOf(param.schema, 'input') : {} }];
  }
  // A whole-object schema (`@Query(z.object(…))`): one parameter per property.
  if (!param.schema) return [];
  const object = jsonSchemaOf(param.schema, 'input');
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    in: place,
    required: place === 'path' || required.has(name),
    schema,
  }));
}

/** The schema's JSON Schema (draft 2020-12, what OpenAPI 3.1 uses), or `{}` (any value) when it offers none. */
function jsonSchemaOf(schema: StandardSchemaV1, io: 'input' | 'output'): JsonSchema {
  const json = (schema['~standard'] as Partial<StandardJSONSchemaV1.Props>).jsonSchema;
  if (!json) return {};
  try {
    const out = { ...(json[io]({ target: 'draft-2020-12' }) as JsonSchema) };
    delete out.$schema;
    return out;
  } catch {
    return {}; // a schema JSON Schema cannot describe (a transform, a custom check)
  }
}

/** Whether the schema accepts a missing value (optional, or with a default); an async schema counts as required. */
function acceptsUndefined(schema: StandardSchemaV1): boolean {
  const result = schema['~standard'].validate(undefined);
  return !(result instanceof Promise) && !result.issues;
}

function healthPaths(): Record<string, Record<string, Operation>> {
  const probe = {
    name: 'probe',
    in: 'path',
    required: true,
    schema: { enum: [...PROBE_NAMES] },
  };
  const report = { content: { 'application/json': { schema: { $ref: '#/components/schemas/HealthReport' } } } };
  return {
    '/healthx/{probe}': {
      get: {
        operationId: 'healthx.report',
        tags: ['health'],
        parameters: [probe],
        responses: {
          '200': { description: 'the probe passes', ...report },
          '503': { description: 'the probe fails; `reason` says why', ...report },
        },
      },
    },
    '/healthx/{probe}/{action}': {
      post: {
        operationId: 'healthx.switch',
        tags: ['health'],
        security: [{ controlToken: [] }],
        parameters: [probe, { name: 'action', in: 'path', required: true, schema: { enum: ['open', 'close'] } }],
        responses: {
          '200': { description: 'the switch is set' },
          '403': errorResponse('no valid control token', 'Error'),
        },
      },
    },
  };
}
