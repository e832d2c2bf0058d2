/** Two tasks, the second sent by the handler of the first: one trace spans both. */
import { defineTopology } from '@wakame/core';

export const topology = defineTopology({
  version: 1,
  exchanges: [{ name: 'shop', type: 'direct' }],
  queues: [
    { name: 'orders', bindings: [{ exchange: 'shop', routingKey: 'orders' }] },
    { name: 'invoices', bindings: [{ exchange: 'shop', routingKey: 'invoices' }] },
  ],
  tasks: [
    {
      name: 'order.place',
      payload: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
    },
    {
      name: 'invoice.send',
      payload: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
    },
  ],
  routes: [
    { match: 'order.*', exchange: 'shop', routingKey: 'orders' },
    { match: 'invoice.*', exchange: 'shop', routingKey: 'invoices' },
  ],
});
