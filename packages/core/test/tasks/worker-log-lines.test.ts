/**
 * What the worker says about a message it cannot run, in its task events (what `wakame worker` prints), its log
 * lines and the dead letter's reason: a message without a `task` header says the header is missing and names it; an
 * invalid payload names the failing field and its JSON path.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { InvalidPayloadError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { assertPayload } from '../../src/tasks/payload-validator.js';
import { TASK_HEADERS } from '../../src/tasks/protocol.js';
import { type TaskEvent, Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';

const schema = {
  type: 'object',
  required: ['orderId', 'items'],
  additionalProperties: false,
  properties: {
    orderId: { type: 'integer' },
    items: {
      type: 'array',
      items: { type: 'object', required: ['sku'], properties: { sku: { type: 'string' }, qty: { type: 'integer' } } },
    },
    channel: { enum: ['web', 'shop'] },
  },
} as const;

const topology = defineTopology({
  queues: [{ name: 'orders', bindings: [{ exchange: 'amq.direct', routingKey: 'orders' }] }],
  tasks: [{ name: 'order.place', route: { exchange: 'amq.direct', routingKey: 'orders' }, payload: schema }],
});

/** Publishes `body` onto the task queue with `headers`, and returns what the worker said about it. */
async function outcomeOf(body: unknown, headers: Record<string, unknown>) {
  const connection = await Connection.open(`memory://${randomUUID()}`);
  const events: TaskEvent[] = [];
  const warnings: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  const logger = {
    debug: () => {},
    info: () => {},
    warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, fields }),
    error: () => {},
  };
  const worker = new Worker({
    connection,
    topology,
    logger,
    handlers: { 'order.place': () => {} },
    onTaskEvent: (e) => events.push(e),
  });
  try {
    void worker.run();
    await vi.waitFor(() => expect(worker.health().healthy).toBe(true));
    await connection.producer({ routingKey: 'orders' }).publish(body, { headers });
    await vi.waitFor(() => expect(events).toHaveLength(1));
    const dead = await new Queue('wakame.dead-letter').attach(connection).get();
    await dead?.ack();
    return { event: events[0] as TaskEvent, warnings, reason: dead?.headers[TASK_HEADERS.deadLetterReason] };
  } finally {
    await worker.stop({ deadline: 1_000 });
    await connection.close();
  }
}

describe('log lines name what is wrong', () => {
  it('a message without a task header: the header is missing, and named', async () => {
    const { event, warnings, reason } = await outcomeOf({ orderId: 1, items: [] }, {});
    expect(event).toMatchObject({ type: 'dead-letter', reason: 'unknown-task', task: '' });
    expect(event.error?.message).toMatch(/has no 'task' header/);
    expect(event.error?.message).not.toMatch(/unknown task ''/);
    expect(warnings).toEqual([
      {
        msg: 'message dead-lettered',
        fields: expect.objectContaining({ queue: 'orders', reason: 'unknown-task', error: event.error }),
      },
    ]);
    expect(reason).toMatchObject({ reason: 'unknown-task', error: { message: event.error?.message } });
  });

  it('a task the topology does not define: named, with the tasks it does define', async () => {
    const { event } = await outcomeOf({}, { [TASK_HEADERS.task]: 'order.cancel' });
    expect(event.error?.message).toBe("unknown task 'order.cancel'; the topology defines order.place");
  });

  it('an invalid payload: each failing field with its JSON path', async () => {
    const { event, warnings, reason } = await outcomeOf(
      { orderId: 'A-1', items: [{ sku: 'x' }, { qty: 2 }], channel: 'phone', coupon: 'FREE' },
      { [TASK_HEADERS.task]: 'order.place' },
    );
    expect(event).toMatchObject({ type: 'dead-letter', reason: 'invalid-payload', task: 'order.place' });
    expect(event.error?.name).toBe('InvalidPayloadError');
    const message = event.error?.message ?? '';
    expect(message).toContain("payload of task 'order.place' is invalid:");
    expect(message).toContain("'orderId' at /orderId must be integer");
    expect(message).toContain("'items[1].sku' at /items/1/sku is required");
    expect(message).toContain('\'channel\' at /channel must be one of ["web","shop"]');
    expect(message).toContain("'coupon' at /coupon is not allowed by the schema");
    expect(warnings[0]?.fields).toMatchObject({ reason: 'invalid-payload', error: { message } });
    expect(reason).toMatchObject({
      reason: 'invalid-payload',
      issues: expect.arrayContaining([{ path: '/items/1/sku', message: 'is required' }]),
    });
  });

  it('the same wording on send, before anything is sent', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const client = new TaskClient(connection, topology);
    try {
      const sending = client.send('order.place', { items: [] } as never);
      await expect(sending).rejects.toThrow(InvalidPayloadError);
      await expect(sending).rejects.toThrow("'orderId' at /orderId is required");
    } finally {
      await client.close();
      await connection.close();
    }
    expect(() => assertPayload('t', { type: 'object' }, 'text')).toThrow(
      "payload of task 't' is invalid: the payload must be object",
    );
  });
});
