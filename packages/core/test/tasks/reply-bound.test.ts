/**
 * A reply the caller cannot read — larger than the caller's `maxBodyBytes` — fails the call at once
 * with the reason, instead of leaving it to run into its timeout.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { TaskClient } from '../../src/tasks/client.js';
import { Worker } from '../../src/tasks/worker.js';
import { defineTopology } from '../../src/topology/document.js';

const topology = defineTopology({
  version: 1,
  queues: [{ name: 'rpc', bindings: [{ exchange: 'amq.direct', routingKey: 'rpc' }] }],
  tasks: [{ name: 'blob.make', route: { exchange: 'amq.direct', routingKey: 'rpc' } }],
});

describe('RPC replies over the caller’s body bound', () => {
  it('fail the call with the reason as soon as the reply arrives', async () => {
    const broker = `memory://${randomUUID()}`;
    const serving = await Connection.open(broker);
    const calling = await Connection.open(broker, { maxBodyBytes: 1024 });
    const worker = new Worker({
      connection: serving,
      topology,
      handlers: { 'blob.make': async () => 'x'.repeat(4096) },
    });
    const running = worker.run();
    try {
      const client = new TaskClient(calling, topology);
      // Far longer than the test may run: only the reply can end the call in time.
      const failure = await client.call('blob.make', {}, { timeout: 3_600_000 }).catch((e: unknown) => e);
      expect(failure).toMatchObject({
        code: 'ERR_TASK_FAILED',
        remote: { name: 'PayloadTooLargeError', message: expect.stringContaining('the reply could not be read') },
      });
    } finally {
      await worker.stop();
      await running;
      await calling.close();
      await serving.close();
    }
  });
});
