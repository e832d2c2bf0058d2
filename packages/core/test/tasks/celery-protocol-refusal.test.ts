/**
 * A TaskClient sends, and a Worker runs, Wakame's format only: a task the topology marks `protocol: celery`
 * (on the task, or for the whole document) is refused with TaskProtocolError before anything is sent,
 * declared or started, and the compiled task says which protocol it speaks.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOperationError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';
import { TaskClient } from '../../src/tasks/client.js';
import { TaskProtocolError } from '../../src/tasks/task-protocol-error.js';
import { Worker } from '../../src/tasks/worker.js';
import { defineTopology, type TopologyDocument } from '../../src/topology/document.js';
import { compileDocument } from '../../src/topology/pipeline.js';

const route = { exchange: 'tasks', routingKey: 'jobs' };
const topology = defineTopology({
  exchanges: [{ name: 'tasks', type: 'direct' }],
  queues: [{ name: 'jobs', bindings: [{ exchange: 'tasks', routingKey: 'jobs' }] }],
  tasks: [
    { name: 'wk.run', route, payload: { type: 'object', properties: { n: { type: 'integer' } } } },
    {
      name: 'py.add',
      protocol: 'celery',
      route,
      payload: { type: 'object', required: ['args'], properties: { args: { type: 'array' } } },
    },
  ],
});

/** The whole document speaks Celery; one task opts back into Wakame's protocol. */
const celeryDocument: TopologyDocument = {
  protocol: 'celery',
  exchanges: [{ name: 'tasks', type: 'direct' }],
  tasks: [
    { name: 'py.mul', route },
    { name: 'wk.own', protocol: 'wakame', route },
  ],
};

describe('CompiledTask.protocol', () => {
  it("is the task's own protocol, else the document's, else 'wakame'", () => {
    const byName = (doc: TopologyDocument) =>
      Object.fromEntries(compileDocument(doc).tasks.map((t) => [t.name, t.protocol]));
    expect(byName(topology)).toEqual({ 'wk.run': 'wakame', 'py.add': 'celery' });
    expect(byName(celeryDocument)).toEqual({ 'py.mul': 'celery', 'wk.own': 'wakame' });
  });
});

describe('TaskClient refuses a Celery task', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function setup(doc: TopologyDocument = topology) {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    await connection.declare(new Queue('jobs', { exchange: new Exchange('tasks'), routingKey: 'jobs' }));
    const client = new TaskClient(connection, doc);
    const published: unknown[] = [];
    const subscribed: unknown[] = [];
    const offPublish = connection.events.on('producer.publish', (e) => {
      published.push(e.payload);
    });
    const offSubscribe = connection.events.on('consumer.subscribe', (e) => {
      subscribed.push(e.payload);
    });
    cleanup.push(async () => {
      offPublish();
      offSubscribe();
      await client.close();
      await connection.close();
    });
    return { connection, client, published, subscribed };
  }

  it('send: TaskProtocolError (an InvalidOperationError, code ERR_TASK_PROTOCOL) naming CeleryClient; nothing sent', async () => {
    const { connection, client, published } = await setup();
    const error = await client.send('py.add', { args: [1, 2] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskProtocolError);
    expect(error).toBeInstanceOf(InvalidOperationError);
    expect(error).toMatchObject({ code: 'ERR_TASK_PROTOCOL', task: 'py.add', protocol: 'celery' });
    expect((error as Error).message).toContain('CeleryClient');
    expect((error as Error).message).toContain('wakame send');
    expect(published).toEqual([]);
    expect(await connection.getMessage('jobs')).toBeUndefined();
  });

  it('refuses before checking the payload (a Wakame-shaped payload still gets the protocol error)', async () => {
    const { client } = await setup();
    await expect(client.send('py.add', { n: 1 } as never)).rejects.toMatchObject({ code: 'ERR_TASK_PROTOCOL' });
  });

  it('call: refused before listening for replies or sending', async () => {
    const { connection, client, published, subscribed } = await setup();
    await expect(client.call('py.add', { args: [1, 2] }, { timeout: 60_000 })).rejects.toBeInstanceOf(
      TaskProtocolError,
    );
    expect(published).toEqual([]);
    expect(subscribed).toEqual([]);
    expect(await connection.getMessage('jobs')).toBeUndefined();
  });

  it('destination: refused, as Celery routes the task its own way', async () => {
    const { client } = await setup();
    expect(() => client.destination('py.add')).toThrow(TaskProtocolError);
    // Its definition is still readable, protocol included.
    expect(client.task('py.add').protocol).toBe('celery');
  });

  it("a document's protocol: celery applies to its tasks; a task's own protocol: wakame wins", async () => {
    const { connection, client, published } = await setup(celeryDocument);
    await expect(client.send('py.mul', {})).rejects.toMatchObject({ code: 'ERR_TASK_PROTOCOL', task: 'py.mul' });
    expect(published).toEqual([]);
    const { id } = await client.send('wk.own', {});
    expect(published).toHaveLength(1);
    expect((await connection.getMessage('jobs'))?.properties.messageId).toBe(id);
  });

  it('Wakame tasks are sent as before; an unknown task is still UnknownTaskError', async () => {
    const { connection, client } = await setup();
    const { id } = await client.send('wk.run', { n: 1 });
    expect((await connection.getMessage('jobs'))?.properties.messageId).toBe(id);
    await expect(client.send('nope' as never, {} as never)).rejects.toMatchObject({ code: 'ERR_UNKNOWN_TASK' });
  });
});

describe('Worker refuses to run a Celery task', () => {
  it('at construction, naming CeleryWorker, when a handler is given for one', () => {
    const build = () =>
      new Worker({ connection: `memory://${randomUUID()}`, topology, handlers: { 'py.add': () => undefined } });
    expect(build).toThrow(TaskProtocolError);
    expect(build).toThrow(/py\.add.*which a Worker does not run.*CeleryWorker/);
    try {
      build();
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_TASK_PROTOCOL', task: 'py.add', protocol: 'celery', role: 'run' });
    }
  });

  it("a document's protocol: celery counts too; a worker of its Wakame tasks alone is built", () => {
    expect(
      () =>
        new Worker({
          connection: `memory://${randomUUID()}`,
          topology: celeryDocument,
          handlers: { 'py.mul': () => 1 },
        }),
    ).toThrow(TaskProtocolError);
    const worker = new Worker({
      connection: `memory://${randomUUID()}`,
      topology: celeryDocument,
      handlers: { 'wk.own': () => 1 },
      queues: ['jobs'],
    });
    expect(worker).toBeInstanceOf(Worker);
  });
});
