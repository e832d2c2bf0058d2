import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WakameError } from '../../src/errors.js';
import { Connection } from '../../src/messaging/connection.js';
import { Exchange } from '../../src/model/exchange.js';
import { Queue } from '../../src/model/queue.js';

/** Every user mistake gets a typed error with a stable code and a message that says what to do. */
describe('bad input gets a typed error a person understands', () => {
  const opened: Connection[] = [];
  const open = async () => {
    const c = await Connection.open(`memory://${randomUUID()}`);
    opened.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
  });

  const caught = async (p: Promise<unknown> | (() => unknown)): Promise<WakameError> => {
    try {
      await (typeof p === 'function' ? p() : p);
    } catch (error) {
      expect(error).toBeInstanceOf(WakameError);
      return error as WakameError;
    }
    throw new Error('expected a failure');
  };

  it('malformed URL', async () => {
    const e = await caught(() => new Connection('amqp://user:pw@host:notaport/'));
    expect(e.code).toBe('ERR_INVALID_URL');
    expect(e.message).toMatch(/port/i);
    expect(e.message).not.toContain(':pw@');
  });

  it('unknown scheme', async () => {
    const e = await caught(Connection.open('kafka://broker:9092'));
    expect(e.code).toBe('ERR_UNKNOWN_TRANSPORT');
    expect(e.message).toContain("'kafka:'");
  });

  it('unknown serializer', async () => {
    const c = await open();
    const e = await caught(c.producer().publish({ a: 1 }, { routingKey: 'x', serializer: 'pickle' }));
    expect(e.code).toBe('ERR_UNKNOWN_SERIALIZER');
    expect(e.message).toContain('pickle');
    expect(e.message).toContain('json');
  });

  it('unknown accept entry is refused when the consumer is created, not at the first message', async () => {
    const c = await open();
    const e = await caught(() => c.consumer({ queues: ['q'], accept: ['pickle'] }));
    expect(e.code).toBe('ERR_UNKNOWN_SERIALIZER');
  });

  it('settling twice', async () => {
    const c = await open();
    const q = new Queue('twice');
    await c.declare(q);
    await c.producer().publish({ n: 1 }, { routingKey: 'twice' });
    const m = await q.attach(c).get();
    await m?.ack();
    const e = await caught(m?.ack() ?? Promise.resolve());
    expect(e.code).toBe('ERR_MESSAGE_STATE');
    expect(e.message).toMatch(/already acked/);
  });

  it('publishing to an undeclared exchange with mandatory', async () => {
    const c = await open();
    const e = await caught(c.producer().publish({}, { exchange: 'nowhere', routingKey: 'k', mandatory: true }));
    expect(e.code).toBe('ERR_NOT_FOUND');
    expect(e.message).toBe("exchange 'nowhere' not found");
  });

  it('a mandatory message nobody receives', async () => {
    const c = await open();
    await c.declare(new Exchange('lonely', { type: 'topic' }));
    const e = await caught(c.producer().publish({}, { exchange: 'lonely', routingKey: 'a.b', mandatory: true }));
    expect(e.code).toBe('ERR_UNROUTABLE');
    expect(e.message).toContain("routing key 'a.b'");
  });

  it('priority and expiration out of range are refused, never clamped', async () => {
    const c = await open();
    expect((await caught(c.producer().publish({}, { routingKey: 'q', priority: 300 }))).code).toBe(
      'ERR_INVALID_ARGUMENT',
    );
    expect((await caught(c.producer().publish({}, { routingKey: 'q', expiration: -5 }))).code).toBe(
      'ERR_INVALID_ARGUMENT',
    );
  });

  it('a body above the size bound', async () => {
    const c = await Connection.open(`memory://${randomUUID()}`, { maxBodyBytes: 1024 });
    opened.push(c);
    const e = await caught(c.producer().publish(Buffer.alloc(2048), { routingKey: 'q' }));
    expect(e.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(e.message).toContain('2048');
  });

  it('an unknown compression', async () => {
    const c = await open();
    const e = await caught(c.producer().publish({}, { routingKey: 'q', compression: 'lz77' }));
    expect(e.code).toBe('ERR_UNKNOWN_SERIALIZER');
    expect(e.message).toContain('lz77');
  });
});

describe('instrumentation of failures', () => {
  it('reports an unroutable mandatory publish as producer.unroutable', async () => {
    const c = await Connection.open(`memory://${randomUUID()}`);
    const seen: unknown[] = [];
    c.events.on('producer.unroutable', (e) => seen.push(e.payload));
    await c.declare(new Exchange('empty', { type: 'fanout' }));
    await expect(
      c.producer().publish({}, { exchange: 'empty', routingKey: 'k', mandatory: true }),
    ).rejects.toMatchObject({
      code: 'ERR_UNROUTABLE',
    });
    expect(seen).toEqual([{ exchange: 'empty', routingKey: 'k' }]);
    await c.close();
  });
});
