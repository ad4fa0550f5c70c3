import type { MemberDecorator } from './hooks.js';
import {
  type ControllerOptions,
  declareServerPart,
  type HttpMethod,
  onMethod,
  type RouteOptions,
  updateRecord,
} from './metadata.js';

/**
 * A class whose decorated methods are HTTP routes under `prefix`. List it in
 * `@Command('http', { controllers: [...] })`; it is built by the container.
 * @example
 * @Controller('/users')
 * export class UsersController {
 *   @Get('/:id') get(ctx: Context) { return this.users.find(ctx.params.id); }
 * }
 */
export function Controller(prefix = '', options: ControllerOptions = {}): ClassDecorator {
  return (target) => {
    declareServerPart(target);
    updateRecord(target, (record) => void (record.controller = { prefix, options }));
  };
}

function route(method: HttpMethod, path: string, options: RouteOptions): MemberDecorator {
  const name = method[0] + method.slice(1).toLowerCase();
  return (target, key, descriptor) =>
    onMethod(name, target, key, descriptor, (record, handler) => {
      record.routes.push({ method, path, handler, options });
    });
}

/**
 * Route decorators: the method gets the koa context; a returned value
 * becomes the JSON body (status 200 unless set), or set `ctx.body` yourself.
 */
export const Get = (path = '', options: RouteOptions = {}): MemberDecorator => route('GET', path, options);
export const Post = (path = '', options: RouteOptions = {}): MemberDecorator => route('POST', path, options);
export const Put = (path = '', options: RouteOptions = {}): MemberDecorator => route('PUT', path, options);
export const Patch = (path = '', options: RouteOptions = {}): MemberDecorator => route('PATCH', path, options);
export const Delete = (path = '', options: RouteOptions = {}): MemberDecorator => route('DELETE', path, options);
