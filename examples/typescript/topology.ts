/**
 * A topology in TypeScript: `defineTopology` checks it as you type, and `wakame validate|plan|apply`
 * run the .ts file directly (no build step).
 */
import { defineTopology } from '@wakame/core';

export default defineTopology({
  version: 1,
  exchanges: [{ name: 'orders', type: 'topic' }],
  queues: [
    { name: 'orders.created', bindings: [{ exchange: 'orders', routingKey: 'order.created' }] },
    { name: 'orders.audit', bindings: [{ exchange: 'orders', routingKey: 'order.#' }] },
  ],
  tasks: [
    {
      name: 'order.created',
      route: { exchange: 'orders', routingKey: 'order.created' },
      payload: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
    },
  ],
});
