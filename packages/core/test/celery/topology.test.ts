import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CeleryClient,
  type CeleryTaskError,
  CeleryWorker,
  Connection,
  decodeCeleryTask,
  defineTopology,
  Exchange,
  InvalidArgumentError,
  InvalidPayloadError,
  type Message,
  Queue,
  RpcResultBackend,
} from '../../src/index.js';

const topology = defineTopology({
  protocol: 'celery',
  exchanges: [{ name: 'celery', type: 'direct' }],
  queues: [{ name: 'celery', bindings: [{ exchange: 'celery', routingKey: 'celery' }] }],
  tasks: [
    {
      name: 'proj.add',
      route: { exchange: 'celery', routingKey: 'celery' },
      payload: {
        type: 'object',
        required: ['args'],
        properties: { args: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } },
      },
    },
    { name: 'media.process', protocol: 'wakame' },
  ],
});

describe('Celery tasks of a topology', () => {
  const open: Connection[] = [];
  afterEach(async () => {
    for (const connection of open.splice(0)) await connection.close();
  });

  async function setup() {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    open.push(connection);
    const queue = new Queue('celery', { exchange: new Exchange('celery', { type: 'direct' }), routingKey: 'celery' });
    await connection.declare(queue);
    return { connection, client: new CeleryClient(connection, { topology }) };
  }

  it("sends along the task's route, as a Celery v2 message", async () => {
    const { connection, client } = await setup();
    const sent = await client.send('proj.add', { args: [2, 3] });
    const message = (await connection.getMessage('celery', { accept: ['json'] })) as Message;
    const task = decodeCeleryTask(message.payload, message.headers, message.properties);
    expect([task.id, task.name, task.args]).toEqual([sent.id, 'proj.add', [2, 3]]);
  });

  it('checks args and kwargs against the payload schema, and types them', async () => {
    const { client } = await setup();
    // @ts-expect-error -- a string where the schema says number
    await expect(client.send('proj.add', { args: [2, 'three'] })).rejects.toBeInstanceOf(InvalidPayloadError);
    await expect(client.send('proj.add', { args: [1, 2, 3] })).rejects.toThrow(/proj\.add/);
  });

  it("refuses a task the topology gives Wakame's protocol", async () => {
    const { client } = await setup();
    await expect(client.send('media.process')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('a CeleryWorker with a topology', () => {
  it('types the handlers from the payload schema and fails tasks whose args do not match', async () => {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const backend = new RpcResultBackend(connection);
    const worker = new CeleryWorker(connection, {
      topology,
      backend,
      queues: [new Queue('celery', { exchange: new Exchange('celery', { type: 'direct' }), routingKey: 'celery' })],
      handlers: {
        // args is number[] here, from the schema.
        'proj.add': ({ args }) => args.reduce((sum, n) => sum + n, 0),
        // @ts-expect-error -- not a task of the topology
        'proj.other': () => 0,
      },
    });
    await worker.start();
    try {
      const untyped = new CeleryClient(connection, { backend, resultTimeoutMs: 30_000 });
      expect(await untyped.call('proj.add', { args: [2, 3] })).toBe(5);
      const failure = (await untyped
        .call('proj.add', { args: ['x', 'y'] })
        .catch((e: unknown) => e)) as CeleryTaskError;
      expect([failure.excType, failure.excMessage]).toEqual(['InvalidPayloadError', expect.stringContaining('args')]);
    } finally {
      await worker.stop();
      await backend.close();
      await connection.close();
    }
  });
});
