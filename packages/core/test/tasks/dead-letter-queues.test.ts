import { describe, expect, it } from 'vitest';
import { UnknownTaskError } from '../../src/errors.js';
import { deadLetterQueuesOf } from '../../src/tasks/dead-letter-queues.js';
import { compileDocument } from '../../src/topology/pipeline.js';

const topology = compileDocument({
  version: 1,
  exchanges: [
    { name: 'jobs', type: 'direct' },
    { name: 'dead.all', type: 'fanout' },
    { name: 'dead.by-task', type: 'direct' },
  ],
  queues: [
    { name: 'work', bindings: [{ exchange: 'jobs', routingKey: 'work' }] },
    { name: 'failed.a', bindings: [{ exchange: 'dead.all' }] },
    { name: 'failed.b', bindings: [{ exchange: 'dead.all' }] },
    { name: 'failed.mail', bindings: [{ exchange: 'dead.by-task', routingKey: 'mail.send' }] },
    { name: 'mine' },
  ],
  tasks: [
    { name: 'plain', route: { exchange: 'jobs', routingKey: 'work' } },
    { name: 'to.queue', route: { exchange: 'jobs', routingKey: 'work' }, deadLetter: { queue: 'mine' } },
    { name: 'to.fanout', route: { exchange: 'jobs', routingKey: 'work' }, deadLetter: { exchange: 'dead.all' } },
    { name: 'mail.send', route: { exchange: 'jobs', routingKey: 'work' }, deadLetter: { exchange: 'dead.by-task' } },
    {
      name: 'nowhere',
      route: { exchange: 'jobs', routingKey: 'work' },
      deadLetter: { exchange: 'dead.by-task', routingKey: 'unbound' },
    },
  ],
});

describe('deadLetterQueuesOf', () => {
  it('follows the task dead-letter target as the broker routes it', () => {
    expect(deadLetterQueuesOf(topology, 'plain')).toEqual(['wakame.dead-letter']);
    expect(deadLetterQueuesOf(topology, 'plain', 'my.dlq')).toEqual(['my.dlq']);
    expect(deadLetterQueuesOf(topology, 'to.queue')).toEqual(['mine']);
    expect(deadLetterQueuesOf(topology, 'to.fanout')).toEqual(['failed.a', 'failed.b']);
    // No routing key of its own: the task name is the routing key.
    expect(deadLetterQueuesOf(topology, 'mail.send')).toEqual(['failed.mail']);
    expect(deadLetterQueuesOf(topology, 'nowhere')).toEqual([]);
  });

  it('refuses a task the topology does not define', () => {
    expect(() => deadLetterQueuesOf(topology, 'nope')).toThrow(UnknownTaskError);
  });
});
