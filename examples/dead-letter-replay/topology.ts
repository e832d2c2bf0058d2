/** One queue and one task; its dead letters go to the worker's dead-letter queue, `wakame.dead-letter`. */
import { defineTopology } from '@wakame/core';

export const topology = defineTopology({
  exchanges: [{ name: 'shop', type: 'direct' }],
  queues: [{ name: 'orders', bindings: [{ exchange: 'shop', routingKey: 'orders' }] }],
  tasks: [
    {
      name: 'order.ship',
      route: { exchange: 'shop', routingKey: 'orders' },
      retry: { maxAttempts: 2, initialDelay: 50, factor: 2, maxDelay: 500, jitter: 0 },
      payload: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
    },
  ],
});
