import { Injectable } from 'dionysus';
import { InjectSql } from 'dionysus/sql';
import type { Generated, Kysely, Selectable } from 'kysely';
import { TodoCache } from './cache.js';

/** The `main` database's tables, as samples/app/migrations makes them. */
export interface DB {
  todos: { id: Generated<number>; title: string; done: number };
}

/** A todo as the API shows it. */
export interface Todo {
  id: number;
  title: string;
  done: boolean;
}

const toTodo = (row: Selectable<DB['todos']>): Todo => ({ id: row.id, title: row.title, done: row.done !== 0 });

/**
 * Todos in the `main` database (a SQLite file by default, PostgreSQL with
 * `DATABASE_URL`): one query path on both. `find` reads through the cache,
 * `setDone` forgets the cached copy once the row has changed.
 */
@Injectable()
export class TodoStore {
  constructor(
    @InjectSql('main') private readonly db: Kysely<DB>,
    private readonly cache: TodoCache,
  ) {}

  async add(title: string): Promise<Todo> {
    const row = await this.db
      .insertInto('todos')
      .values({ title, done: 0 })
      .returning(['id', 'title', 'done'])
      .executeTakeFirstOrThrow();
    return toTodo(row);
  }

  /** The todo and whether the cache answered; undefined when there is none. */
  async find(id: number): Promise<{ todo: Todo; cached: boolean } | undefined> {
    const cached = await this.cache.get(id);
    if (cached) return { todo: cached, cached: true };
    const row = await this.db.selectFrom('todos').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const todo = toTodo(row);
    await this.cache.set(todo);
    return { todo, cached: false };
  }

  async list(limit: number): Promise<Todo[]> {
    const rows = await this.db.selectFrom('todos').selectAll().orderBy('id').limit(limit).execute();
    return rows.map(toTodo);
  }

  async setDone(id: number, done: boolean): Promise<Todo | undefined> {
    const row = await this.db
      .updateTable('todos')
      .set({ done: done ? 1 : 0 })
      .where('id', '=', id)
      .returning(['id', 'title', 'done'])
      .executeTakeFirst();
    if (!row) return undefined;
    await this.cache.forget(id);
    return toTodo(row);
  }
}
