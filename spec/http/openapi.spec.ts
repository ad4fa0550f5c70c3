import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { runCommand } from 'dionysus/testing';
import { TodosApp } from '../fixtures/todos/app.js';
import { killChildren, node, ROOT, SAMPLE } from '../integration/child.js';
import { withoutShellConfig } from '../telemetry/log-lines.js';

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Record<string, unknown>>>;
};

async function expectValid(document: unknown): Promise<void> {
  const validator = new Validator();
  const result = await validator.validate(document as Parameters<Validator['validate']>[0]);
  expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).to.deep.equal([]);
  expect(result.valid).to.equal(true);
  expect(validator.version).to.equal('3.1');
}

describe('app openapi <command>', () => {
  afterEach(killChildren);

  async function documentOf(): Promise<Doc> {
    const { exitCode, stdout, stderr } = await runCommand(TodosApp, ['openapi', 'http']);
    expect(exitCode, stderr).to.equal(0);
    return JSON.parse(stdout) as Doc;
  }

  it('prints a valid OpenAPI 3.1 document of the routes, the /healthx routes and the error shapes', async () => {
    const doc = await documentOf();
    await expectValid(doc);
    expect(doc.info).to.deep.include({ title: 'todos http', version: '1.2.3' });
    expect(Object.keys(doc.paths)).to.include.members([
      '/todos/{id}',
      '/todos',
      '/todos/search/all',
      '/healthx/{probe}',
      '/healthx/{probe}/{action}',
    ]);
    expect(doc.paths['/todos/{id}']?.get?.operationId).to.equal('TodosController.find');
  });

  it('describes parameters from their schemas: types, bounds, defaults and which are required', async () => {
    const { paths } = await documentOf();
    expect(paths['/todos/{id}']?.get?.parameters).to.deep.equal([
      {
        name: 'id',
        in: 'path',
        required: true,
        schema: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
      },
    ]);
    const list = paths['/todos']?.get?.parameters as { name: string; in: string; required: boolean; schema: object }[];
    expect(list.map((p) => [p.name, p.in, p.required])).to.deep.equal([
      ['limit', 'query', false],
      ['done', 'query', false],
      ['tag', 'query', false],
    ]);
    expect(list[0]?.schema).to.deep.include({ type: 'integer', maximum: 100, default: 20 });
    // A whole-query schema becomes one parameter per property.
    const search = paths['/todos/search/all']?.get?.parameters as { name: string; required: boolean }[];
    expect(search.map((p) => [p.name, p.required])).to.deep.equal([
      ['q', true],
      ['page', false],
      ['zip', false],
    ]);
    const create = paths['/todos']?.post as { parameters: { name: string; in: string; required: boolean }[] };
    expect(create.parameters.map((p) => [p.name, p.in, p.required])).to.deep.equal([['x-tenant', 'header', true]]);
  });

  it('describes request bodies, the response schema given, and the 400 and 500 shapes', async () => {
    const { paths } = await documentOf();
    const create = paths['/todos']?.post as {
      requestBody: { required: boolean; content: { 'application/json': { schema: { required: string[] } } } };
      responses: Record<string, { content?: { 'application/json': { schema: { $ref?: string } } } }>;
    };
    expect(create.requestBody.required).to.equal(true);
    expect(create.requestBody.content['application/json'].schema.required).to.deep.equal(['title']);
    expect(Object.keys(create.responses)).to.deep.equal(['201', '400', '500', 'default']);
    expect(create.responses['400']?.content?.['application/json'].schema.$ref).to.equal(
      '#/components/schemas/ValidationError',
    );
    const find = paths['/todos/{id}']?.get as {
      responses: Record<string, { content?: { 'application/json': { schema: { properties?: object } } } }>;
    };
    expect(find.responses['200']?.content?.['application/json'].schema.properties).to.have.keys(
      'id',
      'title',
      'idType',
    );
    // A method with the (ctx) signature still has its path parameters.
    expect(paths['/todos/raw/{id}']?.get?.parameters).to.deep.equal([
      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
    ]);
  });

  it('refuses a command that is not an http command, naming the ones there are (exit 2)', async () => {
    const { exitCode, stderr } = await runCommand(TodosApp, ['openapi', 'worker']);
    expect(exitCode).to.equal(2);
    expect(stderr).to.include('openapi: "worker" is not an http command of todos; http commands: http');
  });

  it("matches the reference app's committed document, samples/app/deploy/openapi.json, and is valid", async () => {
    const exit = await node(SAMPLE, ['openapi', 'http'], { env: withoutShellConfig() }).waitForExit();
    expect(exit.code, exit.stderr).to.equal(0);
    await expectValid(JSON.parse(exit.stdout));
    const committed = readFileSync(join(ROOT, 'samples', 'app', 'deploy', 'openapi.json'), 'utf8');
    expect(exit.stdout, 'regenerate with npm run manifests').to.equal(committed);
  });
});
