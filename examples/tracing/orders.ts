/**
 * The Wakame side of the example, with nothing about OpenTelemetry in it: a worker whose `order.place` handler sends
 * an `invoice.send` task, and one order sent to it. With an SDK registered (see `otel.ts`) this makes one trace of
 * four spans; without one, it runs the same and adds no header.
 */
import { Connection, TaskClient, Worker } from '@wakame/core';
import { topology } from './topology.js';

/** Sends order `orderId` and resolves once its invoice task has run; the worker is stopped after. */
export async function placeOrder(url: string, orderId = 'o-1'): Promise<{ orderTaskId: string }> {
  const connection = await Connection.open(url);
  const client = new TaskClient(connection, topology);
  const invoiceSent = signal();
  // The worker declares the exchange and queues; the order is sent once it consumes them.
  const ready = signal();
  const worker = new Worker({
    connection,
    topology,
    handlers: {
      // Runs inside the CONSUMER span of its message: the send below is a child of it.
      'order.place': async ({ orderId: id }) => {
        await client.send('invoice.send', { orderId: id });
      },
      'invoice.send': () => invoiceSent.resolve(),
    },
    onConsumeReady: () => ready.resolve(),
  });
  const running = worker.run();
  try {
    await Promise.race([ready.promise, running]);
    const { id } = await client.send('order.place', { orderId });
    await invoiceSent.promise;
    return { orderTaskId: id };
  } finally {
    await worker.stop();
    await running;
    await client.close();
    await connection.close();
  }
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
