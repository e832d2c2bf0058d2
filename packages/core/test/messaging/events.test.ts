import { describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  EVENTS,
  eventName,
  Instrumentation,
  type InstrumentationEvent,
  type Logger,
  silentLogger,
} from '../../src/messaging/events.js';

function recordingLogger(): Logger & { errors: [string, Record<string, unknown> | undefined][] } {
  const errors: [string, Record<string, unknown> | undefined][] = [];
  return {
    errors,
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: (msg, fields) => void errors.push([msg, fields]),
  };
}

const close = { url: 'amqp://guest:****@h:5672//' };

describe('Instrumentation', () => {
  it('delivers typed events to listeners of that type only', () => {
    const events = new Instrumentation();
    const closes: InstrumentationEvent<'connection.close'>[] = [];
    const lost = vi.fn();
    events.on('connection.close', (e) => void closes.push(e));
    events.on('connection.lost', lost);
    events.emit('connection.close', close);
    expect(closes).toHaveLength(1);
    expect(closes[0]?.type).toBe('connection.close');
    expect(closes[0]?.payload).toBe(close);
    expect(typeof closes[0]?.timestamp).toBe('number');
    expect(Object.isFrozen(closes[0])).toBe(true);
    expect(lost).not.toHaveBeenCalled();
  });

  it('unsubscribes with the returned function (idempotently) and with off()', () => {
    const events = new Instrumentation();
    const a = vi.fn();
    const b = vi.fn();
    const offA = events.on('connection.close', a);
    events.on('connection.close', b);
    offA();
    offA();
    events.emit('connection.close', close);
    expect(a).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(1);
    events.off('connection.close', b);
    events.off('connection.lost', b); // never subscribed: no-op
    events.emit('connection.close', close);
    expect(b).toHaveBeenCalledTimes(1);
  });

  it('calls a once-listener a single time, even on re-entrant emits', () => {
    const events = new Instrumentation();
    const calls: number[] = [];
    events.once('connection.close', (e) => {
      calls.push(e.id);
      events.emit('connection.close', close);
    });
    events.emit('connection.close', close);
    events.emit('connection.close', close);
    expect(calls).toHaveLength(1);
    expect(events.listening('connection.close')).toBe(false);
  });

  it('lets a once-listener be removed before it fires', () => {
    const events = new Instrumentation();
    const listener = vi.fn();
    const off = events.once('connection.close', listener);
    off();
    events.emit('connection.close', close);
    events.once('connection.close', listener);
    events.off('connection.close', listener);
    events.emit('connection.close', close);
    expect(listener).not.toHaveBeenCalled();
  });

  it('treats two subscriptions of one function as two', () => {
    const events = new Instrumentation();
    const listener = vi.fn();
    const off1 = events.on('connection.close', listener);
    events.on('connection.close', listener);
    events.emit('connection.close', close);
    expect(listener).toHaveBeenCalledTimes(2);
    off1();
    events.emit('connection.close', close);
    expect(listener).toHaveBeenCalledTimes(3);
  });

  it('reports whether anyone listens', () => {
    const events = new Instrumentation();
    expect(events.listening('consumer.deliver')).toBe(false);
    const off = events.on('consumer.deliver', () => undefined);
    expect(events.listening('consumer.deliver')).toBe(true);
    expect(events.listening('consumer.cancel')).toBe(false);
    off();
    expect(events.listening('consumer.deliver')).toBe(false);
  });

  it('gives increasing ids, shared across event types', () => {
    const events = new Instrumentation();
    const ids: number[] = [];
    events.on('connection.close', (e) => void ids.push(e.id));
    events.on('producer.unroutable', (e) => void ids.push(e.id));
    events.emit('connection.close', close);
    events.emit('producer.unroutable', { exchange: 'x', routingKey: 'k' });
    events.emit('connection.close', close);
    expect(ids).toHaveLength(3);
    expect(ids[0]).toBeGreaterThan(0);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
  });

  it('reports a throwing listener to the logger and keeps going', () => {
    const logger = recordingLogger();
    const events = new Instrumentation({ logger });
    const boom = new Error('listener bug');
    const after = vi.fn();
    events.on('connection.close', () => {
      throw boom;
    });
    events.on('connection.close', after);
    expect(() => events.emit('connection.close', close)).not.toThrow();
    expect(after).toHaveBeenCalledTimes(1);
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]?.[1]).toMatchObject({ event: 'connection.close', error: boom });
  });

  it('reports a rejecting async listener to the logger', async () => {
    const logger = recordingLogger();
    const events = new Instrumentation({ logger });
    const boom = new Error('async bug');
    // The misuse is the point: an async listener typed as void must still have its rejection observed.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    events.on('connection.close', async () => {
      throw boom;
    });
    events.emit('connection.close', close);
    await new Promise((resolve) => setImmediate(resolve));
    expect(logger.errors[0]?.[1]).toMatchObject({ error: boom });
  });

  it('survives a logger that throws too', () => {
    const logger: Logger = {
      ...silentLogger,
      error: () => {
        throw new Error('logger bug');
      },
    };
    const events = new Instrumentation({ logger });
    events.on('connection.close', () => {
      throw new Error('listener bug');
    });
    expect(() => events.emit('connection.close', close)).not.toThrow();
  });

  it('lets listeners unsubscribe others during an emit without skipping or crashing', () => {
    const events = new Instrumentation();
    const calls: string[] = [];
    let offB: () => void = () => undefined;
    events.on('connection.close', () => {
      calls.push('a');
      offB();
    });
    offB = events.on('connection.close', () => void calls.push('b'));
    events.emit('connection.close', close);
    events.emit('connection.close', close);
    expect(calls).toEqual(['a', 'a']);
  });

  it('rejects a non-function listener', () => {
    const events = new Instrumentation();
    expect(() => events.on('connection.close', 'x' as unknown as () => void)).toThrow(InvalidArgumentError);
  });

  it('defaults to the silent logger', () => {
    expect(new Instrumentation().logger).toBe(silentLogger);
    expect(() => silentLogger.error('nothing', { a: 1 })).not.toThrow();
  });
});

describe('event names', () => {
  it('builds literal names with eventName', () => {
    const consumer = eventName('consumer');
    const name: 'consumer.deliver' = consumer('deliver');
    expect(name).toBe('consumer.deliver');
  });

  it('lists every event in EVENTS', () => {
    expect(EVENTS).toEqual({
      CONNECTION_CONNECT: 'connection.connect',
      CONNECTION_RETRY: 'connection.retry',
      CONNECTION_LOST: 'connection.lost',
      CONNECTION_REVIVED: 'connection.revived',
      CONNECTION_BLOCKED: 'connection.blocked',
      CONNECTION_UNBLOCKED: 'connection.unblocked',
      CONNECTION_CLOSE: 'connection.close',
      QUEUE_UNAVAILABLE: 'queue.unavailable',
      QUEUE_RESTORED: 'queue.restored',
      PRODUCER_PUBLISH: 'producer.publish',
      PRODUCER_UNROUTABLE: 'producer.unroutable',
      CONSUMER_SUBSCRIBE: 'consumer.subscribe',
      CONSUMER_CANCEL: 'consumer.cancel',
      CONSUMER_CANCELLED_BY_BROKER: 'consumer.cancelled_by_broker',
      CONSUMER_DELIVER: 'consumer.deliver',
      CONSUMER_DECODE_ERROR: 'consumer.decode_error',
      CONSUMER_HANDLER_ERROR: 'consumer.handler_error',
      MESSAGE_SETTLE: 'message.settle',
    });
    expect(Object.isFrozen(EVENTS)).toBe(true);
  });

  it('works with the constants as event types', () => {
    const events = new Instrumentation();
    const listener = vi.fn();
    events.on(EVENTS.MESSAGE_SETTLE, listener);
    events.emit('message.settle', { queue: 'q', deliveryTag: 1, outcome: 'ack' });
    expect(listener).toHaveBeenCalledWith(
      expect.objectContaining({ payload: { queue: 'q', deliveryTag: 1, outcome: 'ack' } }),
    );
  });
});
