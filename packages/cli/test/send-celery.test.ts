import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCeleryTask, TASK_HEADERS } from '@wakame/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute } from '../src/run.js';
import { appliedBroker, takeMessage } from './applied-broker.js';
import { capture } from './capture.js';

const TOPOLOGY = `
exchanges:
  - { name: celery.work, type: direct }
queues:
  - name: celery.work
    bindings: [{ exchange: celery.work, routingKey: celery.work }]
  - name: wk.jobs
    bindings: [{ exchange: celery.work, routingKey: wk.jobs }]
tasks:
  - name: py.add
    protocol: celery
    route: { exchange: celery.work, routingKey: celery.work }
    payload:
      type: object
      required: [args]
      additionalProperties: false
      properties:
        args: { type: array, items: { type: integer }, minItems: 2, maxItems: 2 }
  - name: wk.run
    route: { exchange: celery.work, routingKey: wk.jobs }
`;

let dir: string;
let topology: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wakame-send-celery-'));
  topology = join(dir, 'topology.yaml');
  await writeFile(topology, TOPOLOGY);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const applied = () => appliedBroker(topology);
const take = takeMessage;

async function send(url: string, task: string, json: string, args: readonly string[] = []) {
  const c = capture();
  const code = await execute(c.ctx, ['send', task, json, '--topology', topology, '--url', url, ...args]);
  return { code, ...c };
}

describe('wakame send on a protocol: celery task', () => {
  it('sends a Celery protocol v2 message along the route and prints its id', async () => {
    const { url, keeper } = await applied();
    try {
      const r = await send(url, 'py.add', '{"args":[2,3]}');
      expect(r.code).toBe(0);
      expect(r.out).toEqual([expect.stringMatching(/^sent py\.add \(id [\w-]+\) as a Celery task$/)]);
      const id = /\(id ([\w-]+)\)/.exec(r.out[0] as string)?.[1];
      const message = await take(keeper, 'celery.work');
      const task = decodeCeleryTask(message.payload, message.headers, message.properties);
      expect(task).toMatchObject({ id, name: 'py.add', args: [2, 3], kwargs: {} });
      // Celery's body [args, kwargs, embed], not Wakame's format (the payload as it is, an attempt header).
      expect(message.payload).toEqual([[2, 3], {}, expect.objectContaining({ chain: null })]);
      expect(message.headers[TASK_HEADERS.attempt]).toBeUndefined();
    } finally {
      await keeper.close();
    }
  });

  it('--json prints { task, id, protocol: celery }; kwargs, --delay and --priority go as Celery has them', async () => {
    const { url, keeper } = await applied();
    try {
      const c = capture({ jsonMode: true });
      const argv = ['send', 'py.add', '{"args":[1,2]}', '--topology', topology, '--url', url, '--json'];
      expect(await execute(c.ctx, [...argv, '--delay', '60000', '--priority', '3'])).toBe(0);
      expect(c.json).toEqual([{ ok: true, task: 'py.add', id: expect.any(String), protocol: 'celery' }]);
      const message = await take(keeper, 'celery.work');
      const task = decodeCeleryTask(message.payload, message.headers, message.properties);
      expect(task.id).toBe((c.json[0] as { id: string }).id);
      expect(task.eta).toBeInstanceOf(Date);
      expect(message.properties.priority).toBe(3);
    } finally {
      await keeper.close();
    }
  });

  it('checks the arguments against the schema and the { args, kwargs } shape; nothing is sent', async () => {
    const { url, keeper } = await applied();
    try {
      const invalid = await send(url, 'py.add', '{"args":[1]}');
      expect(invalid.code).toBe(1);
      expect(invalid.err.join('\n')).toMatch(/^error \[ERR_INVALID_PAYLOAD\]: payload of task 'py\.add' is invalid/);
      const wakameShaped = await send(url, 'py.add', '{"a":1,"b":2}');
      expect(wakameShaped.code).toBe(1);
      expect(wakameShaped.err.join('\n')).toContain(
        `error [ERR_INVALID_ARGUMENT]: task 'py.add' is a Celery task (protocol: celery): its JSON is {"args": [...], "kwargs": {...}}; unexpected 'a', 'b'`,
      );
      const classed = await send(url, 'py.add', '{"args":[1,2]}', ['--priority', 'high']);
      expect(classed.code).toBe(1);
      expect(classed.err.join('\n')).toContain('has no priority classes');
      expect(await keeper.getMessage('celery.work')).toBeUndefined();
    } finally {
      await keeper.close();
    }
  });

  it('--wait on a broker without a Celery result backend is a user error, before sending', async () => {
    const { url, keeper } = await applied();
    try {
      const r = await send(url, 'py.add', '{"args":[1,2]}', ['--wait', '5']);
      expect(r.code).toBe(1);
      expect(r.err).toEqual([
        "error [ERR_UNSUPPORTED_FEATURE]: the memory transport does not support waiting for a Celery task's result (--wait reads rpc:// results on amqp:// and Celery's Redis result backend on redis://); send without --wait",
      ]);
      const c = capture({ jsonMode: true });
      const argv = ['send', 'py.add', '{"args":[1,2]}', '--topology', topology, '--url', url, '--wait', '5'];
      expect(await execute(c.ctx, [...argv, '--json'])).toBe(1);
      expect(c.json).toEqual([{ ok: false, error: { code: 'ERR_UNSUPPORTED_FEATURE', message: expect.any(String) } }]);
      expect(c.err).toEqual([]);
      expect(await keeper.getMessage('celery.work')).toBeUndefined();
    } finally {
      await keeper.close();
    }
  });

  it('a Wakame task of the same topology is sent as before', async () => {
    const { url, keeper } = await applied();
    try {
      const r = await send(url, 'wk.run', '{"n":1}');
      expect(r.out).toEqual([expect.stringMatching(/^sent wk\.run \(id [\w-]+\)$/)]);
      expect((await take(keeper, 'wk.jobs')).payload).toEqual({ n: 1 });
    } finally {
      await keeper.close();
    }
  });
});
