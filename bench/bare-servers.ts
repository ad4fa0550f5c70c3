/**
 * The baselines of the throughput benches: servers with the sample's handlers
 * and nothing else (no request id, log, metrics or health).
 *
 *   node dist/bench/bare-servers.js node-http|koa-router|koa-router-loaded|grpc-js
 *
 * `koa-router-loaded` is koa-router with the packages a dionysus http command
 * loads (and prom-client's default metrics) in its heap, none of them on the
 * request path: the control that tells heap size apart from per-request work.
 *
 * Each listens on an ephemeral port and publishes it like a dionysus command,
 * in `<DIONYSUS_RUNTIME_DIR>/<kind>.descriptor.json`, so the benches find
 * every server the same way.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Server as GrpcServer, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import Router from '@koa/router';
import Koa from 'koa';
import { GreeterService } from '../proto/gen/helloworld/helloworld.js';

export const BARE_SERVERS = [
  'node-http',
  'koa-router',
  'koa-router-loaded',
  'koa-router-validated',
  'grpc-js',
] as const;
export type BareServer = (typeof BARE_SERVERS)[number];

const HOST = '0.0.0.0';

/** The sample's `GET /hello?name=x` body. */
const greet = (name: unknown): { message: string } => ({
  message: `hello ${typeof name === 'string' && name !== '' ? name : 'world'}`,
});

function nodeHttp(): Server {
  return createServer((req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    if (req.method !== 'GET' || path !== '/hello') {
      res.writeHead(404).end();
      return;
    }
    const name = query < 0 ? null : new URLSearchParams(url.slice(query + 1)).get('name');
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(greet(name)));
  });
}

function koaRouter(): Server {
  const app = new Koa();
  const router = new Router();
  router.get('/hello', (ctx) => {
    ctx.body = greet(ctx.query.name);
  });
  app.use(router.routes()).use(router.allowedMethods());
  return createServer(app.callback());
}

/**
 * The validation bench's baseline: the same route as bench/validated-app.ts,
 * validated by hand with the same zod schema, and @koa/bodyparser.
 */
function koaRouterValidated(): Server {
  const { bodyParser } = require('@koa/bodyparser') as typeof import('@koa/bodyparser');
  const { z } = require('zod') as typeof import('zod');
  const { ORDER, orderReply } = require('./validated-route.js') as typeof import('./validated-route.js');
  const id = z.coerce.number().int().positive();
  const app = new Koa();
  const router = new Router();
  router.post('/orders/:id', (ctx) => {
    const params = id.safeParse(ctx.params.id);
    const body = ORDER.safeParse((ctx.request as { body?: unknown }).body);
    if (!params.success || !body.success) {
      ctx.status = 400;
      ctx.body = { issues: [...(params.error?.issues ?? []), ...(body.error?.issues ?? [])] };
      return;
    }
    ctx.body = orderReply(params.data, body.data);
  });
  app.use(bodyParser({ enableTypes: ['json'] }) as unknown as Koa.Middleware);
  app.use(router.routes()).use(router.allowedMethods());
  return createServer(app.callback());
}

/** What a dionysus http command has in its heap besides koa, loaded and left idle. */
function loadFrameworkPackages(): void {
  for (const name of ['reflect-metadata', 'inversify', 'clipanion', 'config', 'pino']) require(name);
  const prom = require('prom-client') as typeof import('prom-client');
  prom.collectDefaultMetrics({ register: new prom.Registry() });
}

async function grpcJs(): Promise<number> {
  const server = new GrpcServer();
  server.addService(GreeterService, {
    sayHello: (call: ServerUnaryCall<{ name: string }, unknown>, callback: sendUnaryData<unknown>) =>
      callback(null, greet(call.request.name)),
  });
  return new Promise((resolve, reject) =>
    server.bindAsync(`${HOST}:0`, ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port));
  });
}

async function main(kind: string): Promise<void> {
  if (!(BARE_SERVERS as readonly string[]).includes(kind))
    throw new Error(`usage: bare-servers ${BARE_SERVERS.join('|')}`);
  const dir = process.env.DIONYSUS_RUNTIME_DIR;
  if (!dir) throw new Error('DIONYSUS_RUNTIME_DIR must name the dir for the descriptor');
  if (kind === 'koa-router-loaded') loadFrameworkPackages();
  const port =
    kind === 'grpc-js'
      ? await grpcJs()
      : await listen(
          kind === 'koa-router-validated'
            ? koaRouterValidated()
            : kind.startsWith('koa-router')
              ? koaRouter()
              : nodeHttp(),
        );
  const file = join(dir, `${kind}.descriptor.json`);
  const transport = kind === 'grpc-js' ? 'grpc' : 'http';
  writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, command: kind, transport, [transport]: { port } }));
  renameSync(`${file}.tmp`, file);
  process.on('SIGTERM', () => process.exit(0));
}

if (require.main === module) {
  main(process.argv[2] ?? '').catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
