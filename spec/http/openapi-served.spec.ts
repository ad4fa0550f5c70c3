import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import { expect } from 'chai';
import { Command, Controller, Get, Main, Query } from 'dionysus';
import { runCommand, startInMemory } from 'dionysus/testing';
import type { Context, Next } from 'koa';
import { TodosApp } from '../fixtures/todos/app.js';
import { accessLines } from './logs.js';

/** A string schema that counts how often its JSON Schema is asked for, i.e. how often the document is built. */
function countingSchema(): { schema: StandardSchemaV1<string> & StandardJSONSchemaV1<string>; builds: () => number } {
  let builds = 0;
  const jsonSchema = () => {
    builds++;
    return { type: 'string' };
  };
  const schema = {
    '~standard': {
      version: 1 as const,
      vendor: 'spec',
      validate: (value: unknown) =>
        typeof value === 'string' ? { value } : { issues: [{ message: 'expected a string' }] },
      jsonSchema: { input: jsonSchema, output: jsonSchema },
    },
  };
  return { schema, builds: () => builds };
}

describe('the OpenAPI document served at dionysus.http.openapi.path', () => {
  it('is not served by default', async () => {
    const server = await startInMemory(TodosApp);
    try {
      expect((await server.request('/openapi.json')).status).to.equal(404);
    } finally {
      await server.stop();
    }
  });

  it('serves what `app openapi` prints, through the command middleware, logged under its path', async () => {
    const printed = await runCommand(TodosApp, ['openapi', 'http']);
    expect(printed.exitCode, printed.stderr).to.equal(0);
    const server = await startInMemory(TodosApp, { settings: { http: { openapi: { path: '/openapi.json' } } } });
    const res = await server.request('/openapi.json');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(await res.json()).to.deep.equal(JSON.parse(printed.stdout));
    expect((await server.request('/openapi.json', { method: 'POST' })).status).to.equal(405);
    const { stdout } = await server.stop();
    expect(accessLines(stdout).map((l) => [l.method, l.route, l.status])).to.deep.include([
      'GET',
      '/openapi.json',
      200,
    ]);
  });

  it('builds the document once, at the first request, not at start', async () => {
    const { schema, builds } = countingSchema();
    const seen: string[] = [];
    const tagged = async (ctx: Context, next: Next) => {
      seen.push(ctx.path);
      await next();
    };

    @Controller()
    class SearchController {
      @Get('/search') search(@Query('q', schema) q: string): object {
        return { q };
      }
    }

    @Command('http', { controllers: [SearchController], middleware: [tagged] })
    class HttpCommand {}

    @Main({ name: 'served', commands: [HttpCommand] })
    class ServedApp {}

    const server = await startInMemory(ServedApp, { settings: { http: { openapi: { path: '/docs/openapi.json' } } } });
    try {
      expect(builds(), 'built at start').to.equal(0);
      for (let i = 0; i < 3; i++) {
        const doc = (await (await server.request('/docs/openapi.json')).json()) as { paths: Record<string, unknown> };
        expect(doc.paths).to.have.property('/search');
      }
      expect(builds()).to.equal(1);
      expect(seen, "the command's middleware sees the request").to.include('/docs/openapi.json');
    } finally {
      await server.stop();
    }
  });

  it('refuses a path a controller serves, one under /healthx, and one without a leading slash, naming the key', async () => {
    const clash = await runCommand(TodosApp, ['http'], { settings: { http: { openapi: { path: '/todos' } } } });
    expect(clash.exitCode).to.equal(1);
    expect(clash.stderr).to.include(
      'dionysus.http.openapi.path "/todos" is also GET /todos of TodosController.list; choose another path for the document',
    );
    const health = await runCommand(TodosApp, ['http'], { settings: { http: { openapi: { path: '/healthx/doc' } } } });
    expect(health.exitCode).to.equal(1);
    expect(health.stderr).to.include('dionysus.http.openapi.path "/healthx/doc" is under /healthx');
    const relative = await runCommand(TodosApp, ['http'], {
      settings: { http: { openapi: { path: 'openapi.json' } } },
    });
    expect(relative.exitCode).to.equal(1);
    expect(relative.stderr).to.include(
      `dionysus.http.openapi.path: "openapi.json" is not '' (off) or a path starting with '/', e.g. '/openapi.json'`,
    );
  });
});
