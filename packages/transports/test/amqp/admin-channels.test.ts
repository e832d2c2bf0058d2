import { EventEmitter } from 'node:events';
import { Exchange } from '@wakame/core';
import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { ADMIN_CHANNELS, AmqpAdmin } from '../../src/amqp/admin.js';

/** An admin channel whose `assertExchange` stays pending until the test settles it. */
class FakeChannel extends EventEmitter {
  readonly calls: { name: string; settle: (error?: Error) => void }[] = [];
  assertExchange(name: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.calls.push({ name, settle: (error) => (error ? reject(error) : resolve()) });
    });
  }
}

/** A host whose connection can be swapped or taken down, counting the channels it opened. */
function fakeHost() {
  const channels: FakeChannel[] = [];
  const host = {
    down: false,
    channels,
    knownExchanges: new Set<string>(),
    inspect: () => Promise.reject(new Error('not used')),
    connection: async (): Promise<ChannelModel> => {
      if (host.down) throw new Error('connection lost');
      return {
        createChannel: async () => {
          const ch = new FakeChannel();
          channels.push(ch);
          return ch;
        },
      } as unknown as ChannelModel;
    },
  };
  return host;
}

const exchange = (i: number) => new Exchange(`x${i}`, { type: 'direct' });
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('amqp admin channel pool', () => {
  it('serves an operation waiting for a channel once the connection is replaced under the busy ones', async () => {
    const host = fakeHost();
    const admin = new AmqpAdmin(host);
    const busy = Array.from({ length: ADMIN_CHANNELS }, (_, i) => admin.declareExchange(exchange(i)).catch((e) => e));
    const waiting = admin.declareExchange(exchange(99));
    await flush();
    expect(host.channels).toHaveLength(ADMIN_CHANNELS);
    // Recovery: the old channels died with their connection and will never be released.
    admin.reset();
    await flush();
    const fresh = host.channels[ADMIN_CHANNELS];
    expect(fresh?.calls.map((c) => c.name)).toEqual(['x99']);
    fresh?.calls[0]?.settle();
    await expect(waiting).resolves.toBeUndefined();
    for (const ch of host.channels.slice(0, ADMIN_CHANNELS)) ch.calls[0]?.settle(new Error('connection closed'));
    await Promise.all(busy);
  });

  it('fails a waiting operation when no channel can be opened for it, instead of leaving it pending', async () => {
    const host = fakeHost();
    const admin = new AmqpAdmin(host);
    const busy = Array.from({ length: ADMIN_CHANNELS }, (_, i) => admin.declareExchange(exchange(i)).catch((e) => e));
    const waiting = admin.declareExchange(exchange(99));
    await flush();
    // One busy channel closes (a 406 or a lost connection) while the connection is down.
    host.down = true;
    const first = host.channels[0] as FakeChannel;
    first.emit('close');
    first.calls[0]?.settle(new Error('channel closed'));
    await expect(waiting).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_/) });
    for (const ch of host.channels.slice(1)) ch.calls[0]?.settle();
    await Promise.all(busy);
  });
});
