import { EventEmitter } from 'node:events';
import { QueueUnavailableError } from '@wakame/core/spi';
import type { ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { Publisher, type PublisherOwner } from '../../src/amqp/publisher.js';

/** A confirm channel stand-in that records writes and lets the test confirm, return, fill and close. */
class FakeChannel extends EventEmitter {
  readonly writes: { exchange: string; routingKey: string; body: Buffer; confirm: (err: unknown) => void }[] = [];
  full = false;
  closed = false;
  publish(
    exchange: string,
    routingKey: string,
    body: Buffer,
    _options: unknown,
    confirm: (err: unknown) => void,
  ): boolean {
    if (this.closed) throw new Error('Channel closed');
    this.writes.push({ exchange, routingKey, body, confirm });
    return !this.full;
  }
  async close(error?: Error): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (error) this.emit('error', error);
    for (const w of this.writes) w.confirm(new Error('channel closed'));
    this.emit('close');
  }
}

/** An owner that records what the publisher asks of it; `down` lists the queues that are unavailable. */
function owner(down: Set<string> = new Set()): PublisherOwner & { refreshes: number } {
  return {
    refreshes: 0,
    channelLost: () => {},
    refresh() {
      this.refreshes++;
    },
    unavailableOn: (target) =>
      down.has(target.routingKey) ? new QueueUnavailableError(target.routingKey, "home node 'wk2' is down") : undefined,
    suspect: async (target) => down.has(target.routingKey),
  };
}

const message = (n: number) => ({ body: Buffer.from(String(n)), properties: {} });
const asChannel = (c: FakeChannel) => c as unknown as ConfirmChannel;

describe('amqp publisher', () => {
  it('keeps many publishes in flight and resolves each on its own confirm', async () => {
    const publisher = new Publisher(5_000, owner());
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const results = [1, 2, 3].map((n) => publisher.publish(message(n), { exchange: '', routingKey: 'q' }));
    expect(ch.writes).toHaveLength(3);
    for (const w of ch.writes) w.confirm(null);
    await expect(Promise.all(results)).resolves.toEqual([undefined, undefined, undefined]);
  });

  it('stops writing when the channel buffer is full and resumes on drain (bounded buffering)', async () => {
    const publisher = new Publisher(5_000, owner());
    const ch = new FakeChannel();
    ch.full = true;
    publisher.attach(asChannel(ch));
    const first = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    const second = publisher.publish(message(2), { exchange: '', routingKey: 'q' });
    expect(ch.writes).toHaveLength(1);
    expect(publisher.pending).toBe(2);
    ch.full = false;
    ch.emit('drain');
    expect(ch.writes).toHaveLength(2);
    for (const w of ch.writes) w.confirm(null);
    await Promise.all([first, second]);
  });

  it('matches a broker return to its mandatory publish and rejects only that one', async () => {
    const publisher = new Publisher(5_000, owner());
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const routed = publisher.publish(message(1), { exchange: 'x', routingKey: 'a', mandatory: true });
    const lost = publisher.publish(message(2), { exchange: 'x', routingKey: 'b', mandatory: true });
    // RabbitMQ sends basic.return before the confirm of the same message.
    ch.emit('return', { fields: { exchange: 'x', routingKey: 'b' }, content: Buffer.from('2') });
    for (const w of ch.writes) w.confirm(null);
    await expect(routed).resolves.toBeUndefined();
    await expect(lost).rejects.toMatchObject({ code: 'ERR_UNROUTABLE' });
  });

  it('sends unconfirmed messages again on the next channel instead of losing them', async () => {
    const publisher = new Publisher(5_000, owner());
    const first = new FakeChannel();
    publisher.attach(asChannel(first));
    const p = publisher.publish(message(7), { exchange: '', routingKey: 'q' });
    publisher.detach();
    void first.close();
    const second = new FakeChannel();
    publisher.attach(asChannel(second));
    expect(second.writes.map((w) => w.body.toString())).toEqual(['7']);
    second.writes[0]?.confirm(null);
    await expect(p).resolves.toBeUndefined();
  });

  it('survives a channel that dies with publishes in flight, in amqplib’s order (confirms fail before close)', async () => {
    // amqplib fails a closing channel's unconfirmed callbacks from its own 'close' listener, before the owner
    // hears of the close; the channel already throws on publish then. The retry must wait for the next
    // channel instead of writing to the dead one again and again (that loop once blocked the event loop).
    const publisher = new Publisher(5_000, owner());
    const first = new FakeChannel();
    publisher.attach(asChannel(first));
    const p = publisher.publish(message(7), { exchange: '', routingKey: 'q' });
    void first.close();
    expect(publisher.pending).toBe(1);
    const later = publisher.publish(message(8), { exchange: '', routingKey: 'q' });
    const second = new FakeChannel();
    publisher.attach(asChannel(second));
    expect(second.writes.map((w) => w.body.toString())).toEqual(['7', '8']);
    for (const w of second.writes) w.confirm(null);
    await expect(Promise.all([p, later])).resolves.toEqual([undefined, undefined]);
  });

  it('fails a publish that cannot be sent before its deadline with TimeoutError', async () => {
    const publisher = new Publisher(50, owner());
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    await expect(p).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
      message: expect.stringMatching(/not sent within 50 ms/),
    });
  });

  it('honours an abort signal', async () => {
    const publisher = new Publisher(5_000, owner());
    const controller = new AbortController();
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q', signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(p).rejects.toThrow('caller gave up');
  });

  it('retries a nacked publish on a fresh channel and keeps the old one open until its confirms arrive', async () => {
    const o = owner();
    const publisher = new Publisher(5_000, o);
    const stale = new FakeChannel();
    publisher.attach(asChannel(stale));
    const nacked = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    const other = publisher.publish(message(2), { exchange: '', routingKey: 'q' });
    stale.writes[0]?.confirm(new Error('message nacked'));
    expect(o.refreshes).toBe(1);
    // Nothing is written while the fresh channel is on its way.
    expect(stale.writes).toHaveLength(2);
    const fresh = new FakeChannel();
    publisher.attach(asChannel(fresh));
    expect(fresh.writes.map((w) => w.body.toString())).toEqual(['1']);
    expect(stale.closed).toBe(false);
    stale.writes[1]?.confirm(null);
    expect(stale.closed).toBe(true);
    fresh.writes[0]?.confirm(null);
    await expect(Promise.all([nacked, other])).resolves.toEqual([undefined, undefined]);
  });

  it('fails a publish the broker keeps refusing, saying why a broker nacks', async () => {
    const o = owner();
    const publisher = new Publisher(5_000, o);
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    for (let i = 0; i < 3; i++) {
      ch.writes[i]?.confirm(new Error('message nacked'));
      publisher.refreshFailed(); // no fresh channel to be had: the retry goes to the same one
    }
    await expect(p).rejects.toMatchObject({
      code: 'ERR_PUBLISH_REJECTED',
      message: expect.stringMatching(/refused the message 3 times .*reject-publish.*quorum queue without a leader/),
    });
    expect(ch.writes).toHaveLength(3);
  });

  it('holds a publish whose queue is unavailable until the queue is back, then sends it', async () => {
    const down = new Set(['q']);
    const publisher = new Publisher(5_000, owner(down));
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const held = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    const free = publisher.publish(message(2), { exchange: '', routingKey: 'other' });
    expect(ch.writes.map((w) => w.body.toString())).toEqual(['2']);
    expect(publisher.pending).toBe(2);
    down.clear();
    publisher.release();
    expect(ch.writes.map((w) => w.body.toString())).toEqual(['2', '1']);
    for (const w of ch.writes) w.confirm(null);
    await expect(Promise.all([held, free])).resolves.toEqual([undefined, undefined]);
  });

  it('moves what waited through a reconnect to the held list when its queue did not come back', async () => {
    const down = new Set<string>();
    const publisher = new Publisher(5_000, owner(down));
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    down.add('q');
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    expect(ch.writes).toHaveLength(0);
    down.clear();
    publisher.release();
    ch.writes[0]?.confirm(null);
    await expect(p).resolves.toBeUndefined();
  });

  it('fails a publish held past its deadline with QueueUnavailableError naming the queue', async () => {
    const publisher = new Publisher(50, owner(new Set(['q'])));
    publisher.attach(asChannel(new FakeChannel()));
    await expect(publisher.publish(message(1), { exchange: '', routingKey: 'q' })).rejects.toMatchObject({
      code: 'ERR_QUEUE_UNAVAILABLE',
      queue: 'q',
      message: expect.stringMatching(
        /queue 'q' exists but is unavailable: home node 'wk2' is down; .*not sent within 50 ms/,
      ),
    });
  });

  it('holds a returned mandatory publish when its queue turns out to be unavailable, and sends it once back', async () => {
    const down = new Set<string>();
    const publisher = new Publisher(5_000, owner(down));
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q', mandatory: true });
    // The queue's node went down: RabbitMQ returns the message; asked, the broker says the queue is unavailable.
    down.add('q');
    ch.emit('return', { fields: { exchange: '', routingKey: 'q' }, content: Buffer.from('1') });
    ch.writes[0]?.confirm(null);
    await new Promise((resolve) => setImmediate(resolve));
    expect(publisher.pending).toBe(1);
    down.clear();
    publisher.release();
    expect(ch.writes).toHaveLength(2);
    ch.writes[1]?.confirm(null);
    await expect(p).resolves.toBeUndefined();
  });

  it('still fails a returned mandatory publish with UnroutableError when no queue on its route is unavailable', async () => {
    const publisher = new Publisher(5_000, owner());
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const p = publisher.publish(message(1), { exchange: 'x', routingKey: 'nowhere', mandatory: true });
    ch.emit('return', { fields: { exchange: 'x', routingKey: 'nowhere' }, content: Buffer.from('1') });
    ch.writes[0]?.confirm(null);
    await expect(p).rejects.toMatchObject({ code: 'ERR_UNROUTABLE' });
  });
});
