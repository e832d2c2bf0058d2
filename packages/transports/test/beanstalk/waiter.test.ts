import { describe, expect, it } from 'vitest';
import type { BeanstalkClient, Job } from '../../src/beanstalk/client.js';
import { Waiter } from '../../src/beanstalk/waiter.js';

/**
 * A client whose `reserve` hands out the jobs it is given one by one, then waits until {@link FakeClient.add}
 * gives another: enough of beanstalkd for the waiter's loop, with every call counted.
 */
class FakeClient {
  closed = false;
  reserves = 0;
  readonly released: [number, number][] = [];
  readonly #jobs: Job[] = [];
  #waiting: ((job: Job) => void) | undefined;

  add(id: number): void {
    const job = { id, body: Buffer.from('x') };
    if (this.#waiting) {
      const give = this.#waiting;
      this.#waiting = undefined;
      give(job);
    } else this.#jobs.push(job);
  }

  reserve(): Promise<Job | undefined> {
    this.reserves++;
    const job = this.#jobs.shift();
    if (job) return Promise.resolve(job);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  async statsJob(): Promise<Record<string, string>> {
    return { pri: '7' };
  }

  async release(id: number, priority: number): Promise<boolean> {
    this.released.push([id, priority]);
    return true;
  }

  close(): void {
    this.closed = true;
  }
}

/** Lets every queued microtask (and those they queue) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('beanstalk Waiter', () => {
  it('waits again when armed by a claim that finds the queue empty right after the wake-up it caused', async () => {
    const client = new FakeClient();
    let wakes = 0;
    // The store's consumers claim when woken; here the claim finds nothing and re-arms without any I/O,
    // so the arm() lands in the microtasks that follow the wake-up, while the first wait is ending.
    const waiter: Waiter = new Waiter(
      client as unknown as BeanstalkClient,
      () => {
        wakes++;
        queueMicrotask(() => waiter.arm());
      },
      (error) => {
        throw error;
      },
    );
    client.add(1);
    waiter.arm();
    await settle();
    expect(wakes).toBe(1);
    expect(client.released).toEqual([[1, 7]]);
    // The re-arm must have started a new wait: a job put now wakes the consumers again.
    expect(client.reserves).toBe(2);
    client.add(2);
    await settle();
    expect(wakes).toBe(2);
    expect(client.released).toEqual([
      [1, 7],
      [2, 7],
    ]);
    waiter.close();
  });

  it('stops waiting once closed, and an arm() after that does nothing', async () => {
    const client = new FakeClient();
    const waiter = new Waiter(
      client as unknown as BeanstalkClient,
      () => undefined,
      () => undefined,
    );
    waiter.arm();
    await settle();
    expect(client.reserves).toBe(1);
    waiter.close();
    expect(waiter.closed).toBe(true);
    waiter.arm();
    await settle();
    expect(client.reserves).toBe(1);
  });
});
