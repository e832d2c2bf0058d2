import { Connection, Queue, TimeoutError } from '@wakame/core';
import { AMQP_URL, brokerGate, randomName } from '@wakame/testkit';
import { describe, expect, it } from 'vitest';

const gate = await brokerGate('amqp drainEvents', { name: 'rabbitmq', url: AMQP_URL });

describe.skipIf(gate === 'skip')('amqp drainEvents', () => {
  it("runs kombu's drain loop over RabbitMQ: every message handled, then a typed timeout", async () => {
    const connection = await Connection.open(AMQP_URL);
    const queue = new Queue(randomName('drain'), { autoDelete: true });
    try {
      const seen: number[] = [];
      await connection
        .consumer({
          queues: [queue],
          handler: async (m) => {
            seen.push((m.payload as { n: number }).n);
            await m.ack();
          },
        })
        .consume();
      const producer = connection.producer();
      for (let n = 0; n < 3; n++) await producer.publish({ n }, { routingKey: queue.name });
      let handled = 0;
      for (let round = 0; round < 10 && handled < 3; round++) handled += await connection.drainEvents({ timeout: 5 });
      expect(handled).toBe(3);
      expect(seen.sort()).toEqual([0, 1, 2]);
      // Nothing more comes: kombu's socket.timeout, typed.
      await expect(connection.drainEvents({ timeout: 0.05 })).rejects.toBeInstanceOf(TimeoutError);
    } finally {
      await connection.close();
    }
  });
});
