/**
 * Claiming from one tube. beanstalkd ties a reserved job to the connection that reserved it: only that
 * connection can delete, release or touch it, and when it closes (a killed process included) the
 * server returns the job to its tube. So each queue gets a connection that watches its tube alone,
 * and a receipt names the connection its job must be settled on.
 *
 * @module
 */

import type { Claimed, StoredMessage } from '@wakame/core/spi';
import { ConnectionError } from '@wakame/core/spi';
import { type BeanstalkClient, BeanstalkCommandError } from './client.js';
import { decodeJob, jobPriority, messagePriority, requeuedPriority } from './jobs.js';

/** What a claimed message's receipt holds. */
export interface Receipt {
  readonly claimer: Claimer;
  readonly jobId: number;
  readonly message: StoredMessage;
  /** The job's beanstalkd priority when it was claimed (a release puts it back with the same). */
  readonly pri: number;
  /** Part jobs holding the body (deleted with the message). */
  readonly parts: readonly number[];
}

/** One queue's claim connection and the jobs it holds. */
export class Claimer {
  /** Jobs reserved and not settled yet, by id: they are touched so their TTR never runs out. */
  readonly held = new Map<number, Receipt>();

  constructor(
    readonly queue: string,
    readonly client: BeanstalkClient,
  ) {}

  /**
   * Reserves up to `max` ready jobs, all requests sent at once. A job's `stats-job` tells whether it is
   * redelivered: requeued by a consumer (its priority says so), or reserved before without a release
   * (the process holding it died, or its TTR ran out).
   */
  async claim(max: number): Promise<Claimed[]> {
    const jobs = await this.client.reserveReady(max);
    const stats = await Promise.all(jobs.map((job) => this.client.statsJob(job.id)));
    const claimed: Claimed[] = [];
    for (const [i, job] of jobs.entries()) {
      const s = stats[i];
      const pri = Number(s?.pri ?? jobPriority(0, false));
      const redelivered = requeuedPriority(pri) || Number(s?.reserves ?? 1) > Number(s?.releases ?? 0) + 1;
      const decoded = decodeJob(job.id, job.body, this.queue, redelivered);
      // The job's priority, not the header's: a queue migration re-files jobs by releasing them with new ones.
      const message: StoredMessage = {
        ...decoded.message,
        priority: messagePriority(pri),
        ...(decoded.parts.length > 0 ? { body: await this.#readParts(decoded.parts) } : {}),
      };
      const receipt: Receipt = { claimer: this, jobId: job.id, message, pri, parts: decoded.parts };
      this.held.set(job.id, receipt);
      claimed.push({ message, receipt });
    }
    return claimed;
  }

  /** A body stored in part jobs, read with `peek` (which reaches a job in any tube). */
  async #readParts(ids: readonly number[]): Promise<Buffer> {
    const parts = await Promise.all(ids.map((id) => this.client.peek(id)));
    return Buffer.concat(
      parts.map((part, i) => {
        if (!part)
          throw new BeanstalkCommandError(
            'peek',
            'NOT_FOUND',
            `beanstalkd has no part job ${ids[i]} of a message's body`,
          );
        return part.body;
      }),
    );
  }

  /**
   * `ack` deletes the job; `requeue` releases it marked as requeued (served first, in id order);
   * `release` puts it back exactly as it was. A job whose connection is gone is already back in its
   * tube (the server returned it): a requeue or release has nothing left to do, an ack fails, since
   * the message will be delivered again.
   */
  async settle(receipt: Receipt, outcome: 'ack' | 'requeue' | 'release'): Promise<void> {
    if (!this.held.delete(receipt.jobId)) return;
    if (this.client.closed) {
      if (outcome === 'ack') {
        throw new ConnectionError(
          'the beanstalkd connection that reserved this message is gone; it went back to its queue',
        );
      }
      return;
    }
    if (outcome === 'ack') {
      await Promise.all([receipt.jobId, ...receipt.parts].map((id) => this.client.delete(id)));
      return;
    }
    const pri = outcome === 'requeue' ? jobPriority(receipt.message.priority, true) : receipt.pri;
    await this.client.release(receipt.jobId, pri);
  }

  /** Restarts the TTR of every held job, so a slow handler keeps its message. */
  async touchAll(): Promise<void> {
    if (this.client.closed) return;
    await Promise.all([...this.held.keys()].map((id) => this.client.touch(id)));
  }
}
