import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import { AMQP_URL, brokerGate, waitFor } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp flow control', { name: 'rabbitmq', url: AMQP_URL });

/** Sets RabbitMQ's memory alarm threshold: 0 raises the alarm at once, which blocks every publishing connection. */
function memoryWatermark(fraction: string): void {
  execFileSync('rabbitmqctl', ['set_vm_memory_high_watermark', fraction], { stdio: 'ignore', timeout: 30_000 });
}

describe.skipIf(gate === 'skip')('amqp flow control', () => {
  it('surfaces connection.blocked and unblocked, and a publish made while blocked completes after', async () => {
    const c = await Connection.open(AMQP_URL);
    const seen: string[] = [];
    c.events.on('connection.blocked', (e) => seen.push(`blocked: ${e.payload.reason}`));
    c.events.on('connection.unblocked', () => seen.push('unblocked'));
    const queue = new Queue(`t-${randomUUID()}`, { durable: false });
    try {
      await c.declare(queue);
      memoryWatermark('0');
      // The broker announces the block when this connection next publishes.
      const held = c.producer().publish({ during: 'alarm' }, { routingKey: queue.name });
      await waitFor(() => seen.length > 0, { timeoutMs: 15_000, what: 'connection.blocked' });
      expect(seen[0]).toMatch(/^blocked: /);
      memoryWatermark('0.4');
      await held;
      await waitFor(() => seen.includes('unblocked'), { timeoutMs: 15_000, what: 'connection.unblocked' });
      expect(await queue.attach(c).messageCount()).toBe(1);
    } finally {
      memoryWatermark('0.4');
      await c.admin.deleteQueue(queue.name).catch(() => undefined);
      await c.close();
    }
  }, 60_000);
});
