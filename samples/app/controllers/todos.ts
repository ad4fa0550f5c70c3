import { Body, Controller, Ctx, Get, HttpError, type Infer, Param, Patch, Post, Query } from 'dionysus';
import type { Context } from 'koa';
import { z } from 'zod';
import { type Todo, TodoStore } from '../todos/store.js';

/** A todo's id: PostgreSQL's serial is a 32-bit integer, so larger ids are refused, not a 500. */
const Id = z.coerce.number().int().positive().max(2_147_483_647);
export const CreateTodo = z.object({ title: z.string().trim().min(1).max(200) });
export const UpdateTodo = z.object({ done: z.boolean() });
export const TodoBody = z.object({ id: z.number().int(), title: z.string(), done: z.boolean() });

/** The todos resource, on the `main` database, `GET /todos/:id` cached in Redis when REDIS_URL is set. */
@Controller('/todos')
export class TodosController {
  constructor(private readonly todos: TodoStore) {}

  /** `POST /todos {"title"}` → 201 `{id,title,done}`. */
  @Post('', { status: 201, response: TodoBody })
  create(@Body(CreateTodo) body: Infer<typeof CreateTodo>): Promise<Todo> {
    return this.todos.add(body.title);
  }

  /** `GET /todos?limit=N` → the first N todos by id (100 unless told, at most 1000). */
  @Get('', { response: z.array(TodoBody) })
  list(@Query('limit', z.coerce.number().int().min(1).max(1000).default(100)) limit: number): Promise<Todo[]> {
    return this.todos.list(limit);
  }

  /** `GET /todos/:id` → 200 or 404; `x-cache: hit|miss` says whether Redis answered. */
  @Get('/:id', { response: TodoBody })
  async find(@Param('id', Id) id: number, @Ctx() ctx: Context): Promise<Todo> {
    const found = await this.todos.find(id);
    if (!found) throw new HttpError(404, `no todo ${id}`, { code: 'TODO_NOT_FOUND' });
    ctx.set('x-cache', found.cached ? 'hit' : 'miss');
    return found.todo;
  }

  /** `PATCH /todos/:id {"done"}` → 200 with the todo, or 404; the cached copy is forgotten. */
  @Patch('/:id', { response: TodoBody })
  async update(@Param('id', Id) id: number, @Body(UpdateTodo) body: Infer<typeof UpdateTodo>): Promise<Todo> {
    const todo = await this.todos.setDone(id, body.done);
    if (!todo) throw new HttpError(404, `no todo ${id}`, { code: 'TODO_NOT_FOUND' });
    return todo;
  }
}
