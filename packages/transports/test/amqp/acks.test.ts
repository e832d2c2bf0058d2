import type { Channel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { AckBatcher } from '../../src/amqp/acks.js';

/** Records the settle frames a channel would send. */
function recorder() {
  const frames: string[] = [];
  const channel = {
    ack: (m: { fields: { deliveryTag: number } }, multiple: boolean) =>
      frames.push(`ack ${m.fields.deliveryTag}${multiple ? '+' : ''}`),
    nack: (m: { fields: { deliveryTag: number } }, _multiple: boolean, requeue: boolean) =>
      frames.push(`nack ${m.fields.deliveryTag}${requeue ? ' requeue' : ''}`),
  } as unknown as Channel;
  return { frames, channel };
}

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('amqp ack coalescing', () => {
  it('acks a settled run with one multiple-ack', async () => {
    const { frames, channel } = recorder();
    const acks = new AckBatcher(channel);
    for (const tag of [1, 2, 3, 4]) acks.delivered(tag);
    for (const tag of [1, 2, 3]) acks.ack(tag);
    await tick();
    expect(frames).toEqual(['ack 3+']);
  });

  it('never covers a delivery the application still holds', async () => {
    const { frames, channel } = recorder();
    const acks = new AckBatcher(channel);
    for (const tag of [1, 2, 3, 4, 5]) acks.delivered(tag);
    for (const tag of [1, 2, 4, 5]) acks.ack(tag);
    await tick();
    // 3 is still held: 1–2 go as a run, 4 and 5 one by one.
    expect(frames).toEqual(['ack 2+', 'ack 4', 'ack 5']);
    acks.ack(3);
    await tick();
    expect(frames.at(-1)).toBe('ack 3+');
  });

  it('sends queued acks before a nack, keeping the order the application settled in', async () => {
    const { frames, channel } = recorder();
    const acks = new AckBatcher(channel);
    for (const tag of [1, 2, 3]) acks.delivered(tag);
    acks.ack(1);
    acks.nack(2, true);
    acks.ack(3);
    await tick();
    expect(frames).toEqual(['ack 1+', 'nack 2 requeue', 'ack 3+']);
  });

  it('lets the run pass deliveries settled on their own, without covering one still held', async () => {
    const { frames, channel } = recorder();
    const acks = new AckBatcher(channel);
    for (const tag of [1, 2, 3, 4, 5, 6]) acks.delivered(tag);
    acks.nack(2, false); // 1 still held: 2 goes alone
    acks.ack(4);
    await tick();
    expect(frames).toEqual(['nack 2', 'ack 4']);
    for (const tag of [1, 3]) acks.ack(tag);
    await tick();
    // 2 and 4 are settled already, 5 is held: the run is 1–3.
    expect(frames.slice(2)).toEqual(['ack 3+']);
    for (const tag of [6, 5]) acks.ack(tag);
    await tick();
    expect(frames.slice(3)).toEqual(['ack 6+']);
  });

  it('keeps its bookkeeping bounded over a long in-order stream', async () => {
    const { frames, channel } = recorder();
    const acks = new AckBatcher(channel);
    let tag = 0;
    for (let turn = 0; turn < 1_000; turn++) {
      for (let k = 0; k < 30; k++) acks.delivered(++tag);
      for (let t = tag - 29; t <= tag; t++) acks.ack(t);
      await tick();
    }
    expect(frames).toHaveLength(1_000);
    expect(frames.at(-1)).toBe(`ack ${tag}+`);
    // The array was compacted on the way: a delivery after it still starts its own run.
    acks.delivered(++tag);
    acks.ack(tag);
    await tick();
    expect(frames.at(-1)).toBe(`ack ${tag}+`);
  });
});
