import { describe, expect, it } from 'vitest';
import { Latch, randomName, waitFor } from '../src/wait-for.js';

describe('waitFor', () => {
  it('resolves with the first truthy value of a sync condition', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined));
    expect(value).toEqual({ calls: 3 });
  });

  it('accepts async conditions', async () => {
    let calls = 0;
    await expect(waitFor(async () => ++calls === 2 && 'ok')).resolves.toBe('ok');
  });

  it('treats a throwing condition as not yet satisfied', async () => {
    let calls = 0;
    const value = await waitFor(() => {
      calls += 1;
      expect(calls).toBeGreaterThan(2);
      return calls;
    });
    expect(value).toBe(3);
  });

  it('rejects on timeout naming what was awaited and the last value', async () => {
    const error = await waitFor(() => 0, { timeoutMs: 30, what: 'three deliveries' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/timed out after 30 ms waiting for three deliveries; last value: 0$/);
  });

  it('keeps the last thrown error as the cause', async () => {
    const boom = new Error('not there yet');
    const error = await waitFor(
      () => {
        throw boom;
      },
      { timeoutMs: 20 },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toContain('threw');
    expect((error as Error).cause).toBe(boom);
  });

  it('times out even if the condition never settles, and stops polling afterwards', async () => {
    let calls = 0;
    const never = (): Promise<boolean> => {
      calls += 1;
      return new Promise<boolean>(() => {});
    };
    await expect(waitFor(never, { timeoutMs: 20 })).rejects.toThrow(/never evaluated/);
    expect(calls).toBe(1);
  });

  it('does not evaluate the condition again after timing out', async () => {
    let calls = 0;
    await expect(waitFor(() => ++calls < 0, { timeoutMs: 20, intervalMs: 1 })).rejects.toThrow(/last value: false/);
    const after = calls;
    // Kept sleep: asserts that something does NOT happen (no evaluation after the timeout), so a bounded wait.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls).toBe(after);
  });
});

describe('Latch', () => {
  it('opens after count countDown calls', async () => {
    const latch = new Latch(2);
    latch.countDown();
    expect(latch.count).toBe(1);
    setImmediate(() => latch.countDown());
    await latch.wait(1000);
    expect(latch.count).toBe(0);
  });

  it('is open immediately with a zero count and ignores extra countDowns', async () => {
    const latch = new Latch(0);
    latch.countDown();
    expect(latch.count).toBe(0);
    await latch.wait(1);
  });

  it('rejects on timeout with the remaining count', async () => {
    const latch = new Latch(3);
    latch.countDown();
    await expect(latch.wait(10)).rejects.toThrow('latch still at 2 of 3 after 10 ms');
  });

  it('rejects invalid counts', () => {
    expect(() => new Latch(-1)).toThrow(RangeError);
    expect(() => new Latch(1.5)).toThrow(RangeError);
  });
});

describe('randomName', () => {
  it('prefixes a UUID', () => {
    expect(randomName()).toMatch(/^t-[0-9a-f-]{36}$/);
    expect(randomName('q')).toMatch(/^q-[0-9a-f-]{36}$/);
    expect(randomName('q')).not.toBe(randomName('q'));
  });
});
