/**
 * The Node side's worker: runs the `node.*` tasks Python sends (to the `node` queue, as `proj.py`
 * routes them) and stores their results where Python's `AsyncResult.get()` reads them.
 *
 *   pnpm exec tsx --conditions=@wakame/source examples/celery/worker.ts [url]
 */
import { type CeleryResultBackend, CeleryWorker, Connection, RpcResultBackend } from '@wakame/core';
import { CeleryRedisResultBackend } from '@wakame/transports/redis';
import { topology } from './topology.js';

const url = process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672//';
const connection = await Connection.open(url);
// The backend must be the one the Python side uses: rpc:// with RabbitMQ, the same Redis with Redis.
const backend: CeleryResultBackend = url.startsWith('redis')
  ? new CeleryRedisResultBackend({ url })
  : new RpcResultBackend(connection);

const worker = new CeleryWorker(connection, {
  // Types each handler's args and kwargs, and checks them before the handler runs.
  topology,
  queues: ['node'],
  backend,
  // Chain steps after ours (proj.tasks.*) go to Celery's default queue.
  defaultQueue: 'celery',
  handlers: {
    'node.slugify': ({ kwargs }) => kwargs.title.toLowerCase().replace(/\W+/g, '-'),
    // The schema was checked before the handler runs: exactly one number (`?? 0` only satisfies the compiler).
    'node.double': ({ args: [x] }) => (x ?? 0) * 2,
    'node.charge': ({ args: [amount] }) => {
      // RangeError is stored as Python's ValueError, with this stack as the traceback.
      if ((amount ?? 0) <= 0) throw new RangeError(`cannot charge ${amount}`);
      return { charged: amount };
    },
    'node.flaky': (call) => {
      // Celery's self.retry(): sent again with retries + 1, not before the countdown.
      if (call.retries < 2) call.retry({ countdown: 1, exc: new Error('not yet') });
      return call.retries;
    },
  },
  // Worker and task events: `celery events` and Flower show this worker beside Python's.
  events: { hostname: `node@${process.pid}` },
  onError: (error) => process.stderr.write(`${String(error)}\n`),
});
await worker.start();
process.stdout.write(`Celery worker for node.* on ${connection.url}; Ctrl-C to stop\n`);

process.once('SIGINT', () => {
  void worker
    .stop()
    .then(() => backend.close())
    .then(() => connection.close());
});
