/**
 * Priority within a class (issue 12): `{ priority: 'high', messagePriority: 9 }` reaches hipri with
 * message priority 9, and a numeric priority on a task that goes by class picks the class whose
 * range holds it instead of bypassing the classes (which made it unroutable).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import type { Message } from '../../src/messaging/message.js';
import { TaskClient } from '../../src/tasks/client.js';
import { priorityClassRanges } from '../../src/tasks/protocol.js';
import { defineTopology, type TopologyDocument } from '../../src/topology/document.js';
import { compileDocument } from '../../src/topology/pipeline.js';

/** examples/priority-tasks, with an optional maxPriority on the class queues. */
function priorityTopology(maxPriority?: number) {
  const queue = (name: string) => ({
    name,
    ...(maxPriority !== undefined ? { maxPriority } : {}),
    bindings: [{ exchange: 'tasks', routingKey: name }],
  });
  return defineTopology({
    version: 1,
    exchanges: [{ name: 'tasks', type: 'direct' }],
    queues: [queue('hipri'), queue('midpri'), queue('lopri')],
    priorityClasses: { high: 'hipri', mid: 'midpri', low: 'lopri' },
    tasks: [
      {
        name: 'report.generate',
        priority: 'low',
        payload: { type: 'object', required: ['reportId'], properties: { reportId: { type: 'string' } } },
      },
      { name: 'plain.job', priority: 4, route: { exchange: 'tasks', routingKey: 'midpri' } },
    ],
    routes: [{ match: '**', exchange: 'tasks' }],
  });
}

describe('priority classes and message priorities', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(maxPriority?: number) {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, priorityTopology(maxPriority));
    for (const e of client.topology.exchanges) await connection.admin.declareExchange(e);
    for (const q of client.topology.queues) await connection.admin.declareQueue(q);
    for (const b of client.topology.bindings) await connection.admin.bind(b);
    cleanup.push(() => connection.close());
    const take = async (queue: string): Promise<Message> => {
      const message = await connection.getMessage(queue);
      if (!message) throw new Error(`queue '${queue}' is empty`);
      await message.ack();
      return message;
    };
    return { connection, client, take };
  }

  it("{ priority: 'high', messagePriority: 9 } reaches hipri with message priority 9", async () => {
    const { client, take } = await setup(10);
    await client.send('report.generate', { reportId: 'r1' }, { priority: 'high', messagePriority: 9 });
    const message = await take('hipri');
    expect(message.properties.priority).toBe(9);
    expect(message.payload).toEqual({ reportId: 'r1' });
  });

  it('messagePriority alone keeps the task its own class', async () => {
    const { client, take } = await setup();
    await client.send('report.generate', { reportId: 'r2' }, { messagePriority: 2 });
    expect((await take('lopri')).properties.priority).toBe(2);
  });

  it('a numeric priority on a task that goes by class picks the class whose range holds it', async () => {
    const { client, take } = await setup();
    await client.send('report.generate', { reportId: 'r3' }, { priority: 5 });
    await client.send('report.generate', { reportId: 'r4' }, { priority: 9 });
    await client.send('report.generate', { reportId: 'r5' }, { priority: 0 });
    expect((await take('midpri')).properties.priority).toBe(5);
    expect((await take('hipri')).properties.priority).toBe(9);
    expect((await take('lopri')).properties.priority).toBe(0);
    expect(client.destination('report.generate', { priority: 200 })).toEqual({
      exchange: 'tasks',
      routingKey: 'hipri',
      priorityClass: 'high',
      messagePriority: 200,
    });
  });

  it('a task without a class keeps its route; a number there is its message priority', async () => {
    const { client, take } = await setup();
    await client.send('plain.job', {});
    await client.send('plain.job', {}, { priority: 7 });
    expect((await take('midpri')).properties.priority).toBe(4);
    expect((await take('midpri')).properties.priority).toBe(7);
  });

  it('refuses what cannot be meant, before sending anything', async () => {
    const { client, connection } = await setup();
    const payload = { reportId: 'r' };
    await expect(client.send('report.generate', payload, { priority: 'urgent' })).rejects.toThrow(
      "unknown priority class 'urgent' for task 'report.generate'; the topology defines high, mid, low",
    );
    await expect(client.send('report.generate', payload, { priority: 5, messagePriority: 9 })).rejects.toThrow(
      'name the class (high, mid, low) as the priority, with message priority 9',
    );
    for (const bad of [256, 2.5, -1]) {
      await expect(client.send('report.generate', payload, { priority: bad })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
        message: `priority must be an integer from 0 to 255, got ${bad}`,
      });
      await expect(
        client.send('report.generate', payload, { priority: 'high', messagePriority: bad }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
    for (const queue of ['hipri', 'midpri', 'lopri']) expect(await connection.getMessage(queue)).toBeUndefined();
  });

  it('ranges: the classes split 0..top (the highest maxPriority, else 9) in order, the highest class up to 255', () => {
    const ranges = (doc: TopologyDocument) =>
      priorityClassRanges(compileDocument(doc)).map((r) => [r.name, r.min, r.max]);
    expect(ranges(priorityTopology())).toEqual([
      ['high', 7, 255],
      ['mid', 4, 6],
      ['low', 0, 3],
    ]);
    expect(ranges(priorityTopology(10))).toEqual([
      ['high', 8, 255],
      ['mid', 4, 7],
      ['low', 0, 3],
    ]);
    const two = defineTopology({
      queues: [{ name: 'a', maxPriority: 255 }, { name: 'b' }],
      priorityClasses: { urgent: 'a', later: 'b' },
    });
    expect(ranges(two)).toEqual([
      ['urgent', 128, 255],
      ['later', 0, 127],
    ]);
    expect(ranges(defineTopology({ queues: [{ name: 'a' }], priorityClasses: { only: 'a' } }))).toEqual([
      ['only', 0, 255],
    ]);
  });
});
