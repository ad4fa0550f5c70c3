import { expect } from 'chai';
import { type InMemoryServer, startInMemory } from 'dionysus/testing';
import { TodosApp } from '../fixtures/todos/app.js';

describe('http parameter decorators with Standard Schema validation', () => {
  let server: InMemoryServer;
  before(async () => {
    server = await startInMemory(TodosApp); // no socket: requests are dispatched in memory
  });
  after(async () => {
    await server.stop();
  });

  const json = async (path: string, init?: RequestInit): Promise<[number, Record<string, unknown>]> => {
    const res = await server.request(path, init);
    return [res.status, (await res.json()) as Record<string, unknown>];
  };
  const post = (
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<[number, Record<string, unknown>]> =>
    json(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': 'acme', ...headers },
      body: JSON.stringify(body),
    });

  it('passes a path parameter coerced to the number its schema wants', async () => {
    expect(await json('/todos/1')).to.deep.equal([200, { id: 1, title: 'tea', idType: 'number' }]);
  });

  it('answers 400 naming the path parameter when it does not validate', async () => {
    const [status, body] = await json('/todos/abc', { headers: { 'x-request-id': 'bad-id' } });
    expect(status).to.equal(400);
    expect(body).to.deep.include({
      error: 'request validation failed',
      requestId: 'bad-id',
      code: 'VALIDATION_FAILED',
    });
    expect(body.issues).to.have.length(1);
    expect((body.issues as { in: string; path: string }[])[0]).to.include({ in: 'path', path: 'id' });
    expect((await json('/todos/-3'))[0]).to.equal(400);
  });

  it('coerces query strings to numbers, booleans and repeated values to arrays, and applies defaults', async () => {
    expect(await json('/todos?limit=5&done=true&tag=a&tag=b')).to.deep.equal([
      200,
      { limit: 5, done: true, tag: ['a', 'b'] },
    ]);
    expect(await json('/todos')).to.deep.equal([200, { limit: 20, done: null, tag: null }]);
  });

  it('coerces only the query values a whole-query schema rejected', async () => {
    // zip stays the string "01234": the schema wants a string there.
    expect(await json('/todos/search/all?q=tea&page=2&zip=01234')).to.deep.equal([
      200,
      { q: 'tea', page: 2, zip: '01234' },
    ]);
  });

  it('lists every issue of body, headers and query in one 400, with dotted paths', async () => {
    const [status, body] = await post('/todos', { title: '', items: [{ name: 'cup', qty: 0 }] }, { 'x-tenant': 'x' });
    expect(status).to.equal(400);
    const issues = (body.issues as { in: string; path: string; message: string }[]).map((i) => [i.in, i.path]);
    expect(issues).to.deep.equal([
      ['body', 'title'],
      ['body', 'items.0.qty'],
      ['header', 'x-tenant'],
    ]);
    for (const issue of body.issues as { message: string }[]) expect(issue.message).to.be.a('string').and.not.equal('');
    const [limitStatus, limitBody] = await json('/todos?limit=500&done=maybe');
    expect(limitStatus).to.equal(400);
    expect((limitBody.issues as { path: string }[]).map((i) => i.path)).to.deep.equal(['limit', 'done']);
  });

  it('passes the validated body (defaults applied) and header to the handler', async () => {
    const [status, body] = await post('/todos', { title: 'milk' });
    expect(status).to.equal(201);
    expect(body).to.include({ title: 'milk', tenant: 'acme' });
    expect(body.items).to.deep.equal([]);
  });

  it('awaits a schema that validates asynchronously', async () => {
    expect(await post('/todos/async', { name: 'free' })).to.deep.equal([200, { name: 'free' }]);
    const [status, body] = await post('/todos/async', { name: 'taken' });
    expect(status).to.equal(400);
    expect(body.issues).to.deep.equal([{ in: 'body', path: 'name', message: 'name is taken' }]);
  });

  it('passes values without a schema as they are, and koa context with @Ctx', async () => {
    expect(await post('/todos/unchecked/7', [1, 2])).to.deep.equal([
      200,
      { id: '7', body: [1, 2], path: '/todos/unchecked/7', hasHost: true },
    ]);
  });

  it('keeps the (ctx) signature for a method without parameter decorators', async () => {
    expect(await json('/todos/raw/9')).to.deep.equal([200, { id: '9' }]);
  });

  it("sends an HttpError's code and details to the client, never its cause", async () => {
    const [status, body] = await json('/todos/99');
    expect(status).to.equal(404);
    expect(body).to.deep.include({ error: 'no todo 99', code: 'TODO_NOT_FOUND', details: { id: 99 } });
    const res = await server.request('/todos/failing/1');
    const text = await res.text();
    expect(res.status).to.equal(409);
    expect(JSON.parse(text)).to.have.property('error', 'already archived');
    expect(text).to.not.include('4242');
  });
});
