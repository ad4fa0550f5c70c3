import { GreetingController } from './greeting.js';
import { PrimesController } from './primes.js';
import { TodosController } from './todos.js';

/** The http command's controllers, loaded when it runs (see commands/http.ts). */
export const controllers = [GreetingController, TodosController, PrimesController];
