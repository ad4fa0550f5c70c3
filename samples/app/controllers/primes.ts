import { Controller, Get, HttpError, Query } from 'dionysus';
import { InjectPool, PoolFullError, type TaskPool } from 'dionysus/pool';
import { z } from 'zod';
import { countPrimes, MAX_BELOW, type Primes } from '../primes.js';

export const PrimesBody = z.object({
  below: z.number().int(),
  count: z.number().int(),
  largest: z.number().nullable(),
});

/** CPU-bound work through the `primes` pool: at most its size run at once, the rest queue or get 503. */
@Controller('/primes')
export class PrimesController {
  constructor(@InjectPool('primes') private readonly pool: TaskPool) {}

  /** `GET /primes?below=N` (2 ≤ N ≤ 10 000 000) → `{below,count,largest}`. */
  @Get('', { response: PrimesBody })
  async count(@Query('below', z.coerce.number().int().min(2).max(MAX_BELOW)) below: number): Promise<Primes> {
    try {
      return await this.pool.submit((signal) => countPrimes(below, signal));
    } catch (error) {
      if (error instanceof PoolFullError) throw new HttpError(503, 'too many prime counts at once; retry later');
      throw error;
    }
  }
}
