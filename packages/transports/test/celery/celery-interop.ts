/**
 * The Celery interop suite, run over RabbitMQ (`rpc://` results) and over Redis (Redis results): a real
 * Python Celery worker runs tasks Wakame sends, and Wakame's {@link CeleryWorker} runs tasks Python
 * sends, each side reading results the other stored. Queue names are unique per run.
 */
import {
  CeleryClient,
  type CeleryResultBackend,
  CeleryRetry,
  CeleryTaskError,
  CeleryWorker,
  Connection,
  defineTopology,
  Exchange,
  InvalidPayloadError,
  Queue,
} from '@wakame/core';
import { randomName } from '@wakame/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CELERY_HOOK_TIMEOUT_MS,
  CELERY_TEST_TIMEOUT_MS,
  type CeleryPeerEnv,
  type CeleryWorkerProcess,
  pythonClient,
  startCeleryWorker,
  startPythonListener,
} from './celery-peer.js';

/** What differs between brokers. */
export interface CelerySuiteSetup {
  readonly name: string;
  /** Creates this run's broker space (a vhost, a key prefix): Wakame's URL and the Python side's config. */
  prepare(prefix: string): Promise<{ readonly url: string; readonly peer: CeleryPeerEnv }>;
  backend(connection: Connection): CeleryResultBackend;
  /** The priority the other side sees for one sent (RabbitMQ: as sent; Redis: kombu's lower-is-sooner mirror). */
  priorityAsSeen(sent: number): number;
  cleanup(): Promise<void>;
}

interface Outcome {
  readonly state: string;
  readonly value?: unknown;
  readonly type?: string;
  readonly message?: string;
  readonly traceback?: string;
  readonly sent_at?: number;
}

/** A priority queue declared exactly as the Python side declares it (`x-max-priority: 10`). */
function priorityQueue(name: string): Queue {
  return new Queue(name, { exchange: new Exchange(name, { type: 'direct' }), routingKey: name, maxPriority: 10 });
}

export function celeryInteropSuite(setup: CelerySuiteSetup): void {
  describe(`Celery interop over ${setup.name}`, () => {
    const prefix = randomName('wk-celery');
    const queues = { py: `${prefix}.py`, pyhi: `${prefix}.pyhi`, wk: `${prefix}.wk`, hi: `${prefix}.hi` };
    let peer: CeleryPeerEnv;
    let connection: Connection;
    let backend: CeleryResultBackend;
    let client: CeleryClient;
    let worker: CeleryWorker;
    let python: CeleryWorkerProcess | undefined;
    const workerErrors: unknown[] = [];

    beforeAll(async () => {
      const space = await setup.prepare(prefix);
      peer = space.peer;
      connection = await Connection.open(space.url);
      backend = setup.backend(connection);
      client = new CeleryClient(connection, {
        backend,
        defaultQueue: queues.py,
        routes: { 'py.priority': { queue: priorityQueue(queues.pyhi) } },
        resultTimeoutMs: CELERY_TEST_TIMEOUT_MS,
      });
      worker = new CeleryWorker(connection, {
        backend,
        queues: [queues.wk, priorityQueue(queues.hi)],
        routes: { 'py.*': queues.py },
        onError: (error) => workerErrors.push(error),
        events: { hostname: `${prefix}-wakame@test`, heartbeatSeconds: 1 },
        handlers: {
          'wk.add': ({ args: [x, y] }) => (x as number) + (y as number),
          'wk.greet': ({ kwargs }) => `hello ${kwargs.name as string}`,
          'wk.fail': ({ args: [message] }) => {
            throw new RangeError(message as string);
          },
          'wk.flaky': (call) => {
            if (call.retries < (call.args[0] as number))
              call.retry({ countdown: 0.2, exc: new Error(`attempt ${call.retries}`) });
            return { retries: call.retries };
          },
          'wk.when': (call) => ({ ran_at: Date.now() / 1000, eta: call.task.eta?.toISOString() ?? null }),
          'wk.urgent': (call) => ({ queue: call.queue, priority: call.priority ?? null }),
          'wk.double': ({ args: [x] }) => (x as number) * 2,
          // Gives up when told to (the soft limit), or never finishes (the hard limit ends it).
          'wk.patient': ({ signal }) =>
            new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
          'wk.stuck': () => new Promise(() => undefined),
          'wk.bigint': () => 10n,
        },
      });
      await worker.start();
      python = await startCeleryWorker(peer, [queues.py, queues.pyhi]);
    }, CELERY_HOOK_TIMEOUT_MS);

    afterAll(async () => {
      await python?.stop();
      await worker?.stop();
      await backend?.close();
      await connection?.close();
      await setup.cleanup();
      expect(workerErrors).toEqual([]);
    }, CELERY_HOOK_TIMEOUT_MS);

    describe('Wakame sends, a Python Celery worker runs', () => {
      it(
        'returns the sum of args',
        async () => {
          expect(await client.call('py.add', { args: [2, 3] })).toBe(5);
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'sends a task a topology marks protocol: celery, along its route, its args checked',
        async () => {
          const topology = defineTopology({
            tasks: [
              {
                name: 'py.add',
                protocol: 'celery',
                // Celery's own declaration of a task_queues entry: a direct exchange of the queue's name.
                route: { exchange: queues.py, routingKey: queues.py },
                payload: {
                  type: 'object',
                  required: ['args'],
                  properties: { args: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 } },
                },
              },
            ],
          });
          const typed = new CeleryClient(connection, { topology, backend, resultTimeoutMs: CELERY_TEST_TIMEOUT_MS });
          expect(await typed.call<number>('py.add', { args: [20, 22] })).toBe(42);
          await expect(typed.call('py.add', { args: [1] })).rejects.toBeInstanceOf(InvalidPayloadError);
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'passes args and kwargs, in msgpack too',
        async () => {
          expect(await client.call('py.total', { args: [1, 2, 3], kwargs: { scale: 10 } })).toBe(60);
          const msgpack = new CeleryClient(connection, { backend, defaultQueue: queues.py, serializer: 'msgpack' });
          expect(await msgpack.call('py.add', { args: [40, 2] })).toBe(42);
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        "reports Python's exception type, message and traceback",
        async () => {
          const failure = await client.call('py.fail', { args: ['boom'] }).catch((e: unknown) => e);
          expect(failure).toBeInstanceOf(CeleryTaskError);
          const error = failure as CeleryTaskError;
          expect([error.state, error.excType, error.excMessage, error.code]).toEqual([
            'FAILURE',
            'ValueError',
            'boom',
            'ERR_CELERY_TASK_FAILED',
          ]);
          expect(error.traceback).toContain('ValueError: boom');
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'gets the result of a task Python retried',
        async () => {
          expect(await client.call('py.flaky', { args: [2] })).toEqual({ retries: 2 });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'runs a countdown task not before its eta',
        async () => {
          const sentAt = Date.now();
          const ran = await client.call<{ ran_at: number; eta: string }>('py.when', { countdown: 1 });
          const eta = Date.parse(ran.eta);
          expect(eta).toBeGreaterThanOrEqual(sentAt + 1000);
          expect(ran.ran_at * 1000).toBeGreaterThanOrEqual(eta);
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'sends along a priority route',
        async () => {
          const got = await client.call<{ queue: string; priority: number | null }>('py.priority', { priority: 7 });
          expect(got.queue).toBe(queues.pyhi);
          expect(got.priority).toBe(setup.priorityAsSeen(7));
        },
        CELERY_TEST_TIMEOUT_MS,
      );
    });

    describe('Python sends, a Wakame worker runs', () => {
      it(
        'returns the sum of args (json and msgpack)',
        async () => {
          expect(await pythonClient<Outcome>(peer, 'sum', { args: [2, 3] })).toMatchObject({
            state: 'SUCCESS',
            value: 5,
          });
          const msgpack = await pythonClient<Outcome>(peer, 'sum', { args: [4, 5], serializer: 'msgpack' });
          expect(msgpack).toMatchObject({ state: 'SUCCESS', value: 9 });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'passes kwargs',
        async () => {
          const outcome = await pythonClient<Outcome>(peer, 'kwargs', { kwargs: { name: 'Ada' } });
          expect(outcome).toMatchObject({ state: 'SUCCESS', value: 'hello Ada' });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'shows Python the failure: a ValueError with the message and a traceback',
        async () => {
          const outcome = await pythonClient<Outcome>(peer, 'fail', { message: 'bad input' });
          expect(outcome).toMatchObject({ state: 'FAILURE', type: 'ValueError', message: 'bad input' });
          expect(outcome.traceback).toContain('RangeError: bad input');
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        "sends Python's errback after a failure, with the failed task's id",
        async () => {
          const outcome = await pythonClient<{ failed: Outcome & { id: string }; errback: Outcome }>(peer, 'errback', {
            message: 'no',
          });
          expect(outcome.failed).toMatchObject({ state: 'FAILURE', type: 'ValueError' });
          expect(outcome.errback).toMatchObject({ state: 'SUCCESS', value: { failed_task: outcome.failed.id } });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'retries Celery-style until it succeeds',
        async () => {
          const outcome = await pythonClient<Outcome>(peer, 'retry', { succeed_on: 2 });
          expect(outcome).toMatchObject({ state: 'SUCCESS', value: { retries: 2 } });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'holds a countdown task until its eta',
        async () => {
          const outcome = await pythonClient<Outcome>(peer, 'eta', { countdown: 1 });
          const value = outcome.value as { ran_at: number; eta: string };
          expect(outcome.state).toBe('SUCCESS');
          expect(value.ran_at).toBeGreaterThanOrEqual(Date.parse(value.eta) / 1000);
          expect(value.ran_at).toBeGreaterThanOrEqual((outcome.sent_at as number) + 1);
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'does not run an expired task: Python sees it REVOKED',
        async () => {
          const outcome = await pythonClient<Outcome>(peer, 'expired');
          expect(outcome).toMatchObject({ state: 'REVOKED', type: 'TaskRevokedError' });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'reports a result it cannot serialize as a failure, not silence',
        async () => {
          const outcome = await pythonClient<Outcome>(peer, 'run', { task: 'wk.bigint' });
          expect(outcome).toMatchObject({ state: 'FAILURE', type: 'TypeError' });
          // The refused store went to onError; take it out so the suite's "no worker errors" check stays strict.
          const refused = workerErrors.splice(0);
          expect(refused).toHaveLength(1);
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        "enforces Celery's time limits: soft (the handler gives up) and hard",
        async () => {
          const soft = await pythonClient<Outcome>(peer, 'time_limit', { task: 'wk.patient', soft: 0.2, hard: 60 });
          expect(soft).toMatchObject({ state: 'FAILURE', type: 'SoftTimeLimitExceeded' });
          const hard = await pythonClient<Outcome>(peer, 'time_limit', { task: 'wk.stuck', hard: 0.2 });
          expect(hard).toMatchObject({ state: 'FAILURE', type: 'TimeLimitExceeded' });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        'runs a group Wakame sends on the Python worker, and one Python sends on Wakame',
        async () => {
          const sent = await client.sendGroup<number>([
            { name: 'py.add', options: { args: [1, 2] } },
            { name: 'py.add', options: { args: [3, 4] } },
          ]);
          expect(await sent.get()).toEqual([3, 7]);
          const fromPython = await pythonClient<Outcome>(peer, 'group', {
            pairs: [
              [5, 6],
              [7, 8],
            ],
          });
          expect(fromPython).toMatchObject({ state: 'SUCCESS', value: [11, 15] });
          // A chain whose next step is a group: the Wakame worker sends each member the result.
          const fanned = await pythonClient<Outcome>(peer, 'chain_to_group', { args: [1, 2], factors: [2, 3] });
          expect(fanned).toMatchObject({ state: 'SUCCESS', value: [6, 9] });
        },
        CELERY_TEST_TIMEOUT_MS,
      );

      it(
        "consumes Python's priority route",
        async () => {
          const outcome = await pythonClient<Outcome>(peer, 'priority', { priority: 8 });
          expect(outcome.state).toBe('SUCCESS');
          const value = outcome.value as { queue: string; priority: number | null };
          expect(value.queue).toBe(queues.hi);
          expect(value.priority).toBe(setup.priorityAsSeen(8));
        },
        CELERY_TEST_TIMEOUT_MS,
      );
    });

    it(
      'runs a chain Python → Wakame → Python, the result back in Python',
      async () => {
        // py.add(2, 3) = 5 on Python, wk.double(5) = 10 on Wakame, py.mul(10, 10) = 100 on Python.
        const outcome = await pythonClient<Outcome>(peer, 'chain', { args: [2, 3], factor: 10 });
        expect(outcome).toMatchObject({ state: 'SUCCESS', value: 100 });
      },
      CELERY_TEST_TIMEOUT_MS,
    );

    it(
      'runs a chain Wakame sends: Python → Wakame → Python, the result back in Wakame',
      async () => {
        const result = await client.send<number>('py.add', {
          args: [1, 2],
          chain: [{ task: 'wk.double' }, { task: 'py.mul', args: [7] }],
        });
        expect(await result.get()).toBe(42);
      },
      CELERY_TEST_TIMEOUT_MS,
    );

    it(
      "sends Celery's worker and task events, as Python's event receiver sees them",
      async () => {
        type Event = { type: string; uuid?: string; hostname: string };
        const listener = startPythonListener<{ events: Event[] }>(
          peer,
          'events',
          { hostname: worker.hostname },
          'hearing',
        );
        try {
          await listener.ready; // it heard this worker (a heartbeat): it will hear the task too
          const result = await client.send<number>('wk.add', { args: [20, 22], queue: queues.wk });
          expect(await result.get()).toBe(42);
          const { events } = await listener.output;
          const ofTask = events.filter((event) => event.uuid === result.id).map((event) => event.type);
          expect(ofTask).toEqual(['task-received', 'task-started', 'task-succeeded']);
          expect(events.some((event) => event.type === 'worker-heartbeat' || event.type === 'worker-online')).toBe(
            true,
          );
        } finally {
          await listener.stop();
        }
      },
      CELERY_TEST_TIMEOUT_MS,
    );

    it('a retry request is no task error', () => {
      expect(new CeleryRetry({}).name).toBe('CeleryRetry');
    });
  });
}
