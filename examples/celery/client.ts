/**
 * The Node side's client: calls the Python tasks of `proj.py` (run its worker first) and reads their
 * results through Celery's result backend.
 *
 *   pnpm exec tsx --conditions=@wakame/source examples/celery/client.ts [url]
 */
import { CeleryClient, type CeleryResultBackend, CeleryTaskError, Connection, RpcResultBackend } from '@wakame/core';
import { CeleryRedisResultBackend } from '@wakame/transports/redis';
import { topology } from './topology.js';

const url = process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672//';
const connection = await Connection.open(url);
const backend: CeleryResultBackend = url.startsWith('redis')
  ? new CeleryRedisResultBackend({ url })
  : new RpcResultBackend(connection);
// Typed by the topology: a wrong argument fails to compile, and is refused at run time too.
const celery = new CeleryClient(connection, { backend, topology, routes: { 'node.*': 'node' } });

const say = (line: string) => process.stdout.write(`${line}\n`);
say(`proj.tasks.add(2, 3) -> ${await celery.call<number>('proj.tasks.add', { args: [2, 3] })}`);

const later = await celery.send<number>('proj.tasks.mul', { args: [6, 7], countdown: 2 });
say(`proj.tasks.mul(6, 7) in 2 s: ${await later.state()} … ${await later.get()}`);

try {
  await celery.call('proj.tasks.divide', { args: [1, 0] });
} catch (error) {
  if (!(error instanceof CeleryTaskError)) throw error;
  say(`proj.tasks.divide(1, 0) failed: ${error.excType}: ${error.excMessage}`);
}

// Python, then the Node worker (run worker.ts too), then Python again.
const chained = await celery.send<number>('proj.tasks.add', {
  args: [1, 2],
  chain: [{ task: 'node.double' }, { task: 'proj.tasks.mul', args: [7] }],
});
say(`add(1, 2) | node.double | mul(7) -> ${await chained.get()}`);

await backend.close();
await connection.close();
