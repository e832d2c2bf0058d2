/**
 * Closing a connection while a batch claim is on its way: the claimed messages must be back in their queue before
 * the store closes. A store whose claim removes the message (kombu's ZooKeeper layout, a plain delete) has no lease
 * that would bring it back later, and once closed it can settle nothing.
 */
import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/messaging/connection.js';
import { TransportRegistry } from '../../src/transport/registry.js';
import type { TransportFactory } from '../../src/transport/spi.js';
import { MemoryStore } from '../../src/virtual/memory-store.js';
import type { Claimed, StoreOutcome, VirtualStore } from '../../src/virtual/store.js';
import { VirtualTransport } from '../../src/virtual/virtual-transport.js';

/** A promise with its resolver. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * A memory store that claims in batches whose replies wait for `reply` (the claim itself is made at once, as a
 * network store's is made by the server), and that settles nothing once closed.
 */
function slowReplyStore(inner: MemoryStore, claimSent: () => void, reply: Promise<void>): VirtualStore {
  let closed = false;
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'immediate') return undefined;
      if (property === 'getMany')
        return async (queue: string, max: number): Promise<Claimed[]> => {
          const claimed: Claimed[] = [];
          for (let c = await target.get(queue); c; c = claimed.length < max ? await target.get(queue) : undefined)
            claimed.push(c);
          claimSent();
          await reply;
          return claimed;
        };
      if (property === 'settle')
        return (receipt: unknown, outcome: StoreOutcome): Promise<void> =>
          closed ? Promise.reject(new Error('store closed')) : target.settle(receipt, outcome);
      if (property === 'close')
        return async (): Promise<void> => {
          closed = true;
          await target.close();
        };
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('closing while a batch claim is on its way', () => {
  it('releases the claimed messages before the store closes', async () => {
    const inner = new MemoryStore();
    const sent = latch();
    const reply = latch();
    const factory: TransportFactory = () => new VirtualTransport(slowReplyStore(inner, sent.open, reply.promise));
    const connection = await Connection.open('slow://', {
      transports: new TransportRegistry([['slow', async () => factory]]),
    });
    await connection.admin.declareQueue({
      name: 'q',
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {},
    });
    const producer = connection.producer();
    for (let i = 0; i < 3; i++) await producer.publish({ i }, { exchange: '', routingKey: 'q' });
    const handled: unknown[] = [];
    const consumer = connection.consumer({ queues: ['q'], prefetch: 10, handler: (m) => void handled.push(m.payload) });
    await consumer.consume();
    await sent.promise;
    expect(await inner.size('q')).toBe(0); // all three claimed, the reply not back yet

    const closing = connection.close();
    // The reply comes back on a later turn of the event loop: everything the close does without waiting on I/O
    // (with this in-memory store, all of it) happens first.
    setImmediate(reply.open);
    await closing;

    expect(handled).toEqual([]);
    expect(await inner.size('q')).toBe(3);
  });
});
