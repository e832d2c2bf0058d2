import { describe, expect, it } from 'vitest';
import { Semaphore, TaskLimit, TokenBucket } from '../../src/tasks/task-limits.js';
import { ManualTimers } from './manual-timers.js';

/** Lets promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('TokenBucket', () => {
  it('allows a burst of max, then one start per period / max, in arrival order', async () => {
    const timers = new ManualTimers(0);
    const bucket = new TokenBucket(4, 1_000, timers);
    const signal = new AbortController().signal;
    for (let i = 0; i < 4; i++) expect(bucket.take(signal)).toBeUndefined();
    const started: number[] = [];
    const waits = [0, 1, 2].map((n) => (bucket.take(signal) as Promise<void>).then(() => started.push(n)));
    await settle();
    expect(started).toEqual([]);
    timers.advance(249);
    await settle();
    expect(started).toEqual([]);
    timers.advance(1);
    await settle();
    expect(started).toEqual([0]);
    timers.advance(500);
    await Promise.all(waits);
    expect(started).toEqual([0, 1, 2]);
    // The line is empty and the bucket spent: the next start waits too.
    expect(bucket.take(signal)).toBeInstanceOf(Promise);
  });

  it('refills to max at most, however long it rested', () => {
    const timers = new ManualTimers(0);
    const bucket = new TokenBucket(2, 1_000, timers);
    const signal = new AbortController().signal;
    timers.advance(3_600_000);
    expect(bucket.take(signal)).toBeUndefined();
    expect(bucket.take(signal)).toBeUndefined();
    expect(bucket.take(signal)).toBeInstanceOf(Promise);
  });

  it('drops a waiter whose signal aborts', async () => {
    const timers = new ManualTimers(0);
    const bucket = new TokenBucket(1, 1_000, timers);
    const stop = new AbortController();
    expect(bucket.take(stop.signal)).toBeUndefined();
    const waiting = bucket.take(stop.signal) as Promise<void>;
    stop.abort(new Error('forced stop'));
    await expect(waiting).rejects.toThrow('forced stop');
  });
});

describe('Semaphore and TaskLimit', () => {
  it('holds at most limit places and hands a freed place to the first waiter, never to a newcomer', async () => {
    const places = new Semaphore(2);
    const signal = new AbortController().signal;
    expect(places.acquire(signal)).toBeUndefined();
    expect(places.acquire(signal)).toBeUndefined();
    const third = places.acquire(signal) as Promise<void>;
    let thirdIn = false;
    void third.then(() => {
      thirdIn = true;
    });
    places.release();
    // The place went to the waiter: a newcomer now waits.
    expect(places.acquire(signal)).toBeInstanceOf(Promise);
    await third;
    expect(thirdIn).toBe(true);
    expect(places.held).toBe(2);
  });

  it('takes a start token only once a place is free, and gives the place back when the wait is aborted', async () => {
    const timers = new ManualTimers(0);
    const limit = new TaskLimit({ concurrency: 1, rateLimit: { max: 1, perMs: 1_000 } }, timers);
    const stop = new AbortController();
    await limit.enter(stop.signal);
    expect(limit.running).toBe(1);
    const second = limit.enter(stop.signal);
    limit.release();
    await settle();
    // Holding the place, waiting for a token.
    expect(limit.running).toBe(1);
    stop.abort(new Error('forced stop'));
    await expect(second).rejects.toThrow('forced stop');
    expect(limit.running).toBe(0);
  });
});
