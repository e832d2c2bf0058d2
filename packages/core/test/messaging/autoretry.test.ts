import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChannelError, ConnectionError, InvalidArgumentError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { Queue } from '../../src/model/queue.js';
import { TransportRegistry } from '../../src/transport/registry.js';
import type { Transport, TransportFactory } from '../../src/transport/spi.js';
import { memoryBroker } from '../../src/virtual/memory-store.js';
import { VirtualTransport } from '../../src/virtual/virtual-transport.js';

/**
 * A `flaky://` registry on one memory broker whose transports fail the next `failures.left` publishes with
 * `make()` (each failing transport is a dead one: the connection drops it and connects a new one).
 */
function flakyRegistry(failures: { left: number; make: () => Error }): {
  registry: TransportRegistry;
  made: () => number;
} {
  const broker = memoryBroker(`flaky-${randomUUID()}`);
  let made = 0;
  const factory: TransportFactory = () => {
    made++;
    const inner = new VirtualTransport(broker);
    return new Proxy(inner, {
      get(target, key) {
        if (key === 'publish') {
          return async (...args: Parameters<Transport['publish']>) => {
            if (failures.left > 0) {
              failures.left--;
              throw failures.make();
            }
            return target.publish(...args);
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
  return { registry: new TransportRegistry([['flaky', async () => factory]]), made: () => made };
}

const fast = { initialDelayMs: 1, maxDelayMs: 2 } as const;

describe('Connection.autoretry (kombu autoretry)', () => {
  it('retries recoverable failures across reconnects, calling onRevive after each reconnect', async () => {
    const failures = { left: 3, make: () => new ConnectionError('connection reset by peer') };
    const { registry, made } = flakyRegistry(failures);
    const connection = await Connection.open('flaky://broker', { transports: registry });
    const queue = new Queue('autoretry');
    await connection.declare(queue);
    const revived: Transport[] = [];
    const publish = connection.autoretry(
      async (body: { n: number }, routingKey: string) => {
        await connection.producer().publish(body, { routingKey });
        return body.n;
      },
      {
        ...fast,
        maxRetries: 5,
        onRevive: async (conn, transport) => {
          expect(conn).toBe(connection);
          expect(transport).toBe(conn.currentTransport);
          revived.push(transport);
          // What lived on the old connection is re-created before the retry.
          await conn.declare(queue);
        },
      },
    );
    expect(await publish({ n: 7 }, queue.name)).toBe(7);
    expect(revived).toHaveLength(3);
    expect(new Set(revived).size).toBe(3);
    expect(made()).toBe(4);
    expect((await connection.getMessage(queue.name))?.payload).toEqual({ n: 7 });
    // The wrapper is reusable; a call that does not fail neither reconnects nor revives.
    expect(await publish({ n: 8 }, queue.name)).toBe(8);
    expect(revived).toHaveLength(3);
    await connection.close();
  });

  it('retries a channel-level failure without reconnecting, so without onRevive', async () => {
    const failures = { left: 2, make: () => new ChannelError('channel closed') };
    const { registry, made } = flakyRegistry(failures);
    const connection = await Connection.open('flaky://broker', { transports: registry });
    let revived = 0;
    let calls = 0;
    const publish = connection.autoretry(
      async () => {
        calls++;
        await connection.producer().publish({}, { routingKey: 'nowhere' });
      },
      { ...fast, onRevive: () => void revived++ },
    );
    await publish();
    expect({ calls, revived, made: made() }).toEqual({ calls: 3, revived: 0, made: 1 });
    await connection.close();
  });

  it('does not retry a non-recoverable error, and gives up after maxRetries', async () => {
    const failures = { left: 1, make: () => new InvalidArgumentError('bad routing key') };
    const { registry } = flakyRegistry(failures);
    const connection = await Connection.open('flaky://broker', { transports: registry });
    let revived = 0;
    let calls = 0;
    const publish = connection.autoretry(
      async () => {
        calls++;
        await connection.producer().publish({}, { routingKey: 'nowhere' });
      },
      { ...fast, onRevive: () => void revived++ },
    );
    await expect(publish()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect({ calls, revived }).toEqual({ calls: 1, revived: 0 });

    failures.left = 10;
    failures.make = () => new ConnectionError('still down');
    calls = 0;
    const bounded = connection.autoretry(
      async () => {
        calls++;
        await connection.producer().publish({}, { routingKey: 'nowhere' });
      },
      { ...fast, maxRetries: 2, onRevive: () => void revived++ },
    );
    await expect(bounded()).rejects.toMatchObject({ code: 'ERR_RETRIES_EXHAUSTED', attempts: 3 });
    expect({ calls, revived }).toEqual({ calls: 3, revived: 2 });
    await connection.close();
  });

  it("uses the connection's retry policy, overridden per wrapper", async () => {
    const failures = { left: 10, make: () => new ConnectionError('down') };
    const { registry } = flakyRegistry(failures);
    const connection = await Connection.open('flaky://broker', {
      transports: registry,
      retry: { ...fast, maxRetries: 1 },
    });
    const fn = async () => connection.producer().publish({}, { routingKey: 'nowhere' });
    await expect(connection.autoretry(fn)()).rejects.toMatchObject({ attempts: 2 });
    await expect(connection.autoretry(fn, { maxRetries: 3 })()).rejects.toMatchObject({ attempts: 4 });
    await connection.close();
  });
});
