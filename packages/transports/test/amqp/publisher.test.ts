import { EventEmitter } from 'node:events';
import type { ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { Publisher } from '../../src/amqp/publisher.js';

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
  close(error?: Error): void {
    this.closed = true;
    if (error) this.emit('error', error);
    for (const w of this.writes) w.confirm(new Error('channel closed'));
    this.emit('close');
  }
}

const message = (n: number) => ({ body: Buffer.from(String(n)), properties: {} });
const asChannel = (c: FakeChannel) => c as unknown as ConfirmChannel;

describe('amqp publisher', () => {
  it('keeps many publishes in flight and resolves each on its own confirm', async () => {
    const publisher = new Publisher(5_000, () => {});
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const results = [1, 2, 3].map((n) => publisher.publish(message(n), { exchange: '', routingKey: 'q' }));
    expect(ch.writes).toHaveLength(3);
    for (const w of ch.writes) w.confirm(null);
    await expect(Promise.all(results)).resolves.toEqual([undefined, undefined, undefined]);
  });

  it('stops writing when the channel buffer is full and resumes on drain (bounded buffering)', async () => {
    const publisher = new Publisher(5_000, () => {});
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
    const publisher = new Publisher(5_000, () => {});
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

  it('rejects a negatively confirmed publish with PublishRejectedError', async () => {
    const publisher = new Publisher(5_000, () => {});
    const ch = new FakeChannel();
    publisher.attach(asChannel(ch));
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    ch.writes[0]?.confirm(new Error('message nacked'));
    await expect(p).rejects.toMatchObject({ code: 'ERR_PUBLISH_REJECTED' });
  });

  it('sends unconfirmed messages again on the next channel instead of losing them', async () => {
    const publisher = new Publisher(5_000, () => {});
    const first = new FakeChannel();
    publisher.attach(asChannel(first));
    const p = publisher.publish(message(7), { exchange: '', routingKey: 'q' });
    publisher.detach();
    first.close();
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
    const publisher = new Publisher(5_000, () => {});
    const first = new FakeChannel();
    publisher.attach(asChannel(first));
    const p = publisher.publish(message(7), { exchange: '', routingKey: 'q' });
    first.close();
    expect(publisher.pending).toBe(1);
    const later = publisher.publish(message(8), { exchange: '', routingKey: 'q' });
    const second = new FakeChannel();
    publisher.attach(asChannel(second));
    expect(second.writes.map((w) => w.body.toString())).toEqual(['7', '8']);
    for (const w of second.writes) w.confirm(null);
    await expect(Promise.all([p, later])).resolves.toEqual([undefined, undefined]);
  });

  it('fails a publish that cannot be sent before its deadline with TimeoutError', async () => {
    const publisher = new Publisher(50, () => {});
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q' });
    await expect(p).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
      message: expect.stringMatching(/not sent within 50 ms/),
    });
  });

  it('honours an abort signal', async () => {
    const publisher = new Publisher(5_000, () => {});
    const controller = new AbortController();
    const p = publisher.publish(message(1), { exchange: '', routingKey: 'q', signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(p).rejects.toThrow('caller gave up');
  });
});
