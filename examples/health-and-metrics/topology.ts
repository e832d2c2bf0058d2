/** One queue, one task that fails now and then (so the metrics show retries and dead letters too). */
import { defineTopology } from '@wakame/core';

export const topology = defineTopology({
  queues: [{ name: 'orders', bindings: [{ exchange: 'amq.direct', routingKey: 'orders' }] }],
  tasks: [
    {
      name: 'order.ship',
      route: { exchange: 'amq.direct', routingKey: 'orders' },
      retry: { maxAttempts: 3, initialDelay: 100, factor: 2, maxDelay: 1000, jitter: 0 },
      payload: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
    },
  ],
});
