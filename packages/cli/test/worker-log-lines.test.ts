/**
 * What `wakame worker` prints about a message it cannot run: a message without a `task` header says the header is
 * missing and names it (not "unknown task ''"); an invalid payload names the failing field and its JSON path.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Connection } from '@wakame/core';
import { waitFor } from '@wakame/testkit';
import { expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { capture } from './capture.js';

const module = fileURLToPath(new URL('./fixtures/orders-worker.mjs', import.meta.url));

interface Line {
  readonly event: string;
  readonly reason?: string;
  readonly error?: { readonly name: string; readonly message: string };
}

it('dead-letter lines name the missing task header, and each invalid field with its JSON path', async () => {
  const url = `memory://${randomUUID()}`;
  const stop = new AbortController();
  const worker = capture({ jsonMode: true, signal: stop.signal });
  const running = runCli(worker.ctx, ['worker', module, '--url', url]);
  const lines = () => worker.json as Line[];
  const connection = await Connection.open(url);
  try {
    await waitFor(() => lines().some((l) => l.event === 'ready'), { what: 'the worker ready' });
    const orders = connection.producer({ routingKey: 'orders' });
    await orders.publish({ orderId: 1, items: [] });
    await orders.publish({ orderId: 'A-1', items: [{ qty: 2 }] }, { headers: { task: 'order.place' } });
    await waitFor(() => lines().filter((l) => l.event === 'task-dead-letter').length === 2, {
      what: 'two dead-letter lines',
    });
  } finally {
    stop.abort();
    await running;
    await connection.close();
  }
  const [missing, invalid] = lines().filter((l) => l.event === 'task-dead-letter');
  expect(missing).toMatchObject({ reason: 'unknown-task' });
  expect(missing?.error?.message).toMatch(/^the message has no 'task' header/);
  expect(invalid).toMatchObject({ reason: 'invalid-payload', error: { name: 'InvalidPayloadError' } });
  expect(invalid?.error?.message).toBe(
    "payload of task 'order.place' is invalid: 'orderId' at /orderId must be integer; 'items[0].sku' at /items/0/sku is required",
  );
});
