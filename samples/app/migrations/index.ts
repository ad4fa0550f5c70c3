import type { Migrations } from 'dionysus/sql';
import { createTodos } from './20260101120000_create_todos.js';

/**
 * The reference app's migrations, imported statically so they ship inside the
 * bundle and the single executable. Names sort in the order they apply; add a
 * new one with `app migrate create NAME --dir samples/app/migrations`, then list it here.
 */
export const migrations: Migrations = {
  '20260101120000_create_todos': createTodos,
};
