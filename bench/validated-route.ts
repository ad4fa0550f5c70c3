import { z } from 'zod';

/** The body both sides of the validation bench validate with the same zod schema. */
export const ORDER = z.object({
  item: z.string().min(1).max(100),
  qty: z.number().int().positive(),
  notes: z.array(z.string()).max(10).default([]),
});
export type OrderBody = z.infer<typeof ORDER>;

export const ORDER_PATH = '/orders/42';
export const ORDER_BODY = JSON.stringify({ item: 'tea', qty: 2, notes: ['green'] });

export function orderReply(id: number, order: OrderBody): object {
  return { id, item: order.item, qty: order.qty, notes: order.notes };
}
