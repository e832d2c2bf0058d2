import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CeleryProtocolError } from '../../src/celery/errors.js';
import {
  CeleryClient,
  CeleryTaskError,
  CeleryWorker,
  type CeleryWorkerOptions,
  Connection,
  RpcResultBackend,
  UnknownTaskError,
} from '../../src/index.js';

/** Wakame on both sides, in process: the worker's behaviour without Python (the interop tests have Python). */
describe('CeleryWorker and CeleryClient on memory://', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setup(options: Omit<CeleryWorkerOptions, 'backend'>) {
    const connection = await Connection.open(`memory://${randomUUID()}`);
    const backend = new RpcResultBackend(connection);
    const errors: unknown[] = [];
    const worker = new CeleryWorker(connection, { backend, onError: (e) => errors.push(e), ...options });
    await worker.start();
    const client = new CeleryClient(connection, { backend, resultTimeoutMs: 30_000 });
    cleanup.push(async () => {
      await worker.stop();
      await backend.close();
      await connection.close();
    });
    return { connection, client, worker, errors };
  }

  it('runs a task and returns its result, acking late when asked', async () => {
    const { client } = await setup({ acksLate: true, handlers: { add: ({ args: [x, y] }) => Number(x) + Number(y) } });
    expect(await client.call('add', { args: [2, 3] })).toBe(5);
  });

  it('records STARTED before the result when tracking starts', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const { client } = await setup({
      trackStarted: true,
      handlers: {
        slow: async () => {
          started();
          await released;
          return 'done';
        },
      },
    });
    const result = await client.send('slow');
    await running;
    await expect.poll(() => result.state()).toBe('STARTED');
    release();
    expect(await result.get()).toBe('done');
    expect(await result.state()).toBe('SUCCESS');
  });

  it('fails after the last retry with the reason given', async () => {
    const { client } = await setup({
      handlers: { flaky: (call) => call.retry({ countdown: 0, maxRetries: 2, exc: new RangeError('still down') }) },
    });
    const failure = (await client.call('flaky').catch((e: unknown) => e)) as CeleryTaskError;
    expect(failure).toBeInstanceOf(CeleryTaskError);
    expect([failure.excType, failure.excMessage]).toEqual(['ValueError', 'still down']);
  });

  it('does not run a task that expires before its eta: REVOKED, as Celery', async () => {
    let ran = false;
    const { client } = await setup({
      handlers: {
        late: () => {
          ran = true;
        },
      },
    });
    const failure = (await client
      .call('late', { countdown: 0.05, expires: 0.01 })
      .catch((e: unknown) => e)) as CeleryTaskError;
    expect([failure.state, failure.excType, ran]).toEqual(['REVOKED', 'TaskRevokedError', false]);
  });

  it('rejects unknown tasks and non-Celery messages, telling onError', async () => {
    const { client, connection, errors } = await setup({ handlers: {} });
    await client.send('nobody.home');
    await connection.producer().publish({ not: 'celery' }, { exchange: '', routingKey: 'celery' });
    await expect.poll(() => errors.length).toBe(2);
    expect(errors[0]).toBeInstanceOf(UnknownTaskError);
    expect(errors[1]).toBeInstanceOf(CeleryProtocolError);
  });
});
