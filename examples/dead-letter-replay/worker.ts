/**
 * The worker module for `wakame worker`: `order.ship` fails while the warehouse is down, so its orders end, after
 * their attempts, in the dead-letter queue; once it is up again, replayed orders ship.
 *
 *   WAREHOUSE=down pnpm wakame worker examples/dead-letter-replay/worker.ts   # orders are dead-lettered
 *   pnpm wakame worker examples/dead-letter-replay/worker.ts                  # replayed orders ship
 */
import type { TaskContext } from '@wakame/core';
import { topology } from './topology.js';

/** Whether the warehouse answers; `main.ts` switches it in process, the CLI worker reads $WAREHOUSE. */
export const warehouse = { up: process.env.WAREHOUSE !== 'down' };

export default {
  topology,
  handlers: {
    'order.ship': async ({ orderId }: { orderId: string }, ctx: TaskContext) => {
      if (!warehouse.up) throw new Error(`warehouse unreachable for ${orderId} (attempt ${ctx.attempt})`);
      return { shipped: orderId, attempt: ctx.attempt };
    },
  },
};
