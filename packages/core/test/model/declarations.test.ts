import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/model/exchange.js';
import { broadcast, Queue } from '../../src/model/queue.js';
import { fromBrokerArguments, toBrokerArguments } from '../../src/model/queue-arguments.js';

const roundTrip = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

describe('Exchange', () => {
  it('defaults to a durable direct exchange', () => {
    const e = new Exchange('orders');
    expect(e).toMatchObject({ name: 'orders', type: 'direct', durable: true, autoDelete: false, internal: false });
  });

  it('round-trips through JSON', () => {
    const e = new Exchange('orders', { type: 'topic', autoDelete: true, alternateExchange: 'ae', arguments: { x: 1 } });
    const back = Exchange.fromJSON(roundTrip(e) as ReturnType<Exchange['toJSON']>);
    expect(back.toJSON()).toStrictEqual(e.toJSON());
    expect(back).toBeInstanceOf(Exchange);
  });

  it('is immutable', () => {
    const e = new Exchange('x');
    expect(() => {
      (e as { name: string }).name = 'y';
    }).toThrow(TypeError);
  });

  it('refuses an unknown type with a typed error', () => {
    expect(() => new Exchange('x', { type: 'weird' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('throws NotBoundError on a channel operation when not attached', async () => {
    await expect(new Exchange('x').declare()).rejects.toMatchObject({ code: 'ERR_NOT_BOUND', name: 'NotBoundError' });
    await expect(new Exchange('x').delete()).rejects.toMatchObject({ code: 'ERR_NOT_BOUND' });
  });

  it('builds exchange-to-exchange binding specs', () => {
    expect(new Exchange('dest').bindingFrom('src', { routingKey: 'a.#' })).toStrictEqual({
      source: 'src',
      destination: 'dest',
      destinationType: 'exchange',
      routingKey: 'a.#',
      arguments: {},
    });
  });
});

describe('Queue', () => {
  const full = new Queue('work', {
    durable: false,
    maxPriority: 10,
    messageTtl: 60_000,
    expires: 3_600_000,
    maxLength: 1000,
    maxLengthBytes: 1 << 20,
    overflow: 'reject-publish',
    deadLetter: { exchange: 'dlx', routingKey: 'dead' },
    singleActiveConsumer: true,
    arguments: { 'x-custom': 'yes' },
    bindings: [
      { exchange: new Exchange('tasks', { type: 'topic' }), routingKey: 'work.#' },
      { exchange: 'hdrs', headers: { format: 'pdf', type: 'report' }, match: 'any' },
    ],
  });

  it('round-trips through JSON with every typed argument and binding', () => {
    const back = Queue.fromJSON(roundTrip(full) as ReturnType<Queue['toJSON']>);
    expect(back.toJSON()).toStrictEqual(full.toJSON());
    expect(back.bindings[0]?.exchange?.type).toBe('topic');
  });

  it('turns headers bindings into x-match arguments', () => {
    expect(full.bindingSpecs()[1]).toStrictEqual({
      source: 'hdrs',
      destination: 'work',
      destinationType: 'queue',
      routingKey: '',
      arguments: { format: 'pdf', type: 'report', 'x-match': 'any' },
    });
  });

  it('maps typed arguments to the RabbitMQ x-argument table and back', () => {
    const table = toBrokerArguments(full);
    expect(table).toStrictEqual({
      'x-custom': 'yes',
      'x-max-priority': 10,
      'x-message-ttl': 60_000,
      'x-expires': 3_600_000,
      'x-max-length': 1000,
      'x-max-length-bytes': 1 << 20,
      'x-overflow': 'reject-publish',
      'x-dead-letter-exchange': 'dlx',
      'x-dead-letter-routing-key': 'dead',
      'x-single-active-consumer': true,
    });
    const lifted = fromBrokerArguments(table);
    expect(lifted.maxPriority).toBe(10);
    expect(lifted.deadLetter).toStrictEqual({ exchange: 'dlx', routingKey: 'dead' });
    expect(lifted.arguments).toStrictEqual({ 'x-custom': 'yes' });
  });

  it.each([
    [{ maxPriority: 0 }, 'maxPriority'],
    [{ maxPriority: 256 }, 'maxPriority'],
    [{ messageTtl: -1 }, 'messageTtl'],
    [{ maxLength: 1.5 }, 'maxLength'],
    [{ overflow: 'explode' as never }, 'overflow'],
    [{ queueType: 'lazy' as never }, 'queueType'],
  ])('refuses bad argument %j', (options, field) => {
    expect(() => new Queue('q', options)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining(field) }),
    );
  });

  it('exclusive implies autoDelete, as in kombu', () => {
    expect(new Queue('q', { exclusive: true }).autoDelete).toBe(true);
  });

  it('single binding shorthand defaults the routing key to the queue name', () => {
    expect(new Queue('jobs', { exchange: 'work' }).bindings[0]?.routingKey).toBe('jobs');
  });

  it('throws NotBoundError on channel operations when not attached', async () => {
    const q = new Queue('q');
    await expect(q.declare()).rejects.toMatchObject({ code: 'ERR_NOT_BOUND' });
    await expect(q.purge()).rejects.toMatchObject({ code: 'ERR_NOT_BOUND' });
    await expect(q.get()).rejects.toMatchObject({ code: 'ERR_NOT_BOUND' });
  });
});

describe('broadcast', () => {
  it('gives each call its own auto-delete queue on a fanout exchange', () => {
    const a = broadcast('news');
    const b = broadcast('news');
    expect(a.name).not.toBe(b.name);
    expect(a.autoDelete).toBe(true);
    expect(a.bindings[0]?.exchange).toMatchObject({ name: 'news', type: 'fanout' });
  });
});
