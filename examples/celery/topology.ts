/**
 * The tasks both sides agree on, as topology as code: every task speaks Celery's protocol, and each
 * payload schema describes `{ args, kwargs }`, which types `client.ts`'s calls and `worker.ts`'s
 * handlers and is checked on both sides.
 */
import { defineTopology } from '@wakame/core';

const numbers = (count: number) =>
  ({ type: 'array', items: { type: 'number' }, minItems: count, maxItems: count }) as const;

export const topology = defineTopology({
  protocol: 'celery',
  tasks: [
    // Python's tasks (proj.py), on Celery's default exchange and routing key.
    {
      name: 'proj.tasks.add',
      route: { exchange: 'celery', routingKey: 'celery' },
      payload: { type: 'object', properties: { args: numbers(2) } },
    },
    {
      name: 'proj.tasks.mul',
      route: { exchange: 'celery', routingKey: 'celery' },
      payload: { type: 'object', properties: { args: numbers(2) } },
    },
    {
      name: 'proj.tasks.divide',
      route: { exchange: 'celery', routingKey: 'celery' },
      payload: { type: 'object', properties: { args: numbers(2) } },
    },
    // Node's tasks (worker.ts).
    {
      name: 'node.slugify',
      payload: {
        type: 'object',
        required: ['kwargs'],
        properties: { kwargs: { type: 'object', required: ['title'], properties: { title: { type: 'string' } } } },
      },
    },
    { name: 'node.double', payload: { type: 'object', properties: { args: numbers(1) } } },
    { name: 'node.charge', payload: { type: 'object', properties: { args: numbers(1) } } },
    { name: 'node.flaky' },
  ],
});
