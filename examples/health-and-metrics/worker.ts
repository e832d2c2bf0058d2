/**
 * The worker module for `wakame worker` (health server from the command line):
 *
 *   wakame worker examples/health-and-metrics/worker.ts --url … --health-port 8080
 *   curl -s localhost:8080/readyz; curl -s localhost:8080/metrics | grep ^wakame_
 */
import type { TaskContext } from '@wakame/core';
import { topology } from './topology.js';

export default {
  topology,
  concurrency: 4,
  handlers: {
    'order.ship': async ({ orderId }: { orderId: string }, ctx: TaskContext) => {
      // A carrier that refuses "lost-*" orders every time: they end in the dead-letter queue after three attempts.
      if (orderId.startsWith('lost-')) throw new Error(`carrier refused ${orderId} (attempt ${ctx.attempt})`);
      return { shipped: orderId };
    },
  },
};
