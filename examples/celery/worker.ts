/**
 * The Node side's worker: runs the `node.*` tasks Python sends (to the `node` queue, as `proj.py`
 * routes them) and stores their results where Python's `AsyncResult.get()` reads them.
 *
 *   pnpm exec tsx --conditions=@wakame/source examples/celery/worker.ts [url]
 */
import { type CeleryResultBackend, CeleryWorker, Connection, RpcResultBackend } from '@wakame/core';
import { CeleryRedisResultBackend } from '@wakame/transports/redis';

const url = process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672//';
const connection = await Connection.open(url);
// The backend must be the one the Python side uses: rpc:// with RabbitMQ, the same Redis with Redis.
const backend: CeleryResultBackend = url.startsWith('redis')
  ? new CeleryRedisResultBackend({ url })
  : new RpcResultBackend(connection);

const worker = new CeleryWorker(connection, {
  queues: ['node'],
  backend,
  // Chain steps after ours (proj.tasks.*) go to Celery's default queue.
  defaultQueue: 'celery',
  handlers: {
    'node.slugify': ({ kwargs }) => String(kwargs.title).toLowerCase().replace(/\W+/g, '-'),
    'node.double': ({ args: [x] }) => Number(x) * 2,
    'node.charge': ({ args: [amount] }) => {
      // RangeError is stored as Python's ValueError, with this stack as the traceback.
      if (Number(amount) <= 0) throw new RangeError(`cannot charge ${amount}`);
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
