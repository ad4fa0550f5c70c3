/**
 * The validation bench's dionysus side: one route with a validated path
 * parameter and JSON body, every framework default on.
 *
 *   node dist/bench/validated-app.js http
 */
import { Body, Command, Controller, type Infer, Main, Param, Post } from 'dionysus';
import { launch } from 'dionysus/launch';
import { z } from 'zod';
import { ORDER, type OrderBody, orderReply } from './validated-route.js';

const Id = z.number().int().positive();

@Controller()
export class OrdersController {
  @Post('/orders/:id')
  create(@Param('id', Id) id: number, @Body(ORDER) order: Infer<typeof ORDER>): object {
    return orderReply(id, order as OrderBody);
  }
}

@Command('http', { controllers: [OrdersController] })
export class OrdersHttp {}

@Main({ name: 'validated', commands: [OrdersHttp] })
export class ValidatedApp {}

if (require.main === module) launch(() => ({ ValidatedApp }));
