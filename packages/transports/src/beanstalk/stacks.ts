/**
 * The stack records of `wakame apply` on beanstalkd. A stack's state document is one job in the tube
 * `<prefix>(wakame)stack.<name>`, replaced the way the topology record is: the writer reserves the old
 * job (other writers wait), puts the new one and deletes the old. The apply lock is one job in
 * `<prefix>(wakame)lock.<name>` that the holder keeps reserved on a connection of its own: a holder that
 * dies closes that connection and beanstalkd hands the job to the next one, so a crashed apply's lock
 * lapses at once. Who holds it is written to `<prefix>(wakame)holder.<name>` for the refused to name.
 *
 * Stack operations are rare, so each opens a connection of its own and closes it when done.
 *
 * @module
 */
import type { LockAttempt, LockHolder, StackLock, StackLockOptions, StackStateStore } from '@wakame/core/spi';
import { acquireStackLock, parseStackDocument, TimeoutError } from '@wakame/core/spi';
import type { BeanstalkTopology } from './beanstalk-topology.js';
import type { BeanstalkClient, Job } from './client.js';
import { recordTube } from './jobs.js';

/** How long a reader or writer waits while another writer holds a record. */
const WAIT_MS = 30_000;
/** TTR of record jobs (held for a few round trips) and of the lock job (touched by its live holder). */
const RECORD_TTR_SECONDS = 30;
const LOCK_TTR_SECONDS = 600;

function total(stats: Record<string, string> | undefined): number {
  if (!stats) return 0;
  return ['ready', 'reserved', 'delayed', 'buried'].reduce((n, k) => n + Number(stats[`current-jobs-${k}`] ?? 0), 0);
}

/** {@link StackStateStore} over beanstalkd tubes (see the module comment). */
export class BeanstalkStacks implements StackStateStore {
  constructor(
    private readonly connect: () => Promise<BeanstalkClient>,
    private readonly prefix: string,
    /** `host:port`, for messages (never credentials: beanstalkd has none). */
    private readonly server: string,
    private readonly topology: BeanstalkTopology,
  ) {}

  describe(stack: string): string {
    return `beanstalkd tube '${this.#tube('stack', stack)}' on ${this.server}`;
  }

  async read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    const job = await this.#peek(this.#tube('stack', stack));
    return job ? parseStackDocument(job.body.toString('utf8'), this.describe(stack)) : undefined;
  }

  write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void> {
    return this.#replace(this.#tube('stack', stack), Buffer.from(JSON.stringify(state)));
  }

  remove(stack: string): Promise<void> {
    return this.#replace(this.#tube('stack', stack), undefined);
  }

  lock(stack: string, options: StackLockOptions): Promise<StackLock> {
    return acquireStackLock(stack, options, () => this.#attempt(stack, options.holder));
  }

  #tube(kind: 'stack' | 'lock' | 'holder', stack: string): string {
    return recordTube(this.prefix, `${kind}.${stack}`);
  }

  /** A connection that uses and watches `tube` only; closed by `fn`'s end unless `keep` says otherwise. */
  async #with<T>(tube: string, fn: (client: BeanstalkClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.useOnly(tube);
      return await fn(client);
    } finally {
      client.close();
    }
  }

  /** The ready record of `tube`; waits while a writer holds it. */
  #peek(tube: string): Promise<Job | undefined> {
    return this.#with(tube, async (client) => {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const job = await client.peekReady();
        if (job) return job;
        if (total(await client.statsTube(tube)) === 0) return undefined;
        if (Date.now() > deadline)
          throw new TimeoutError(`a writer held the beanstalkd record '${tube}' for ${WAIT_MS} ms`);
        // A writer holds it for a few round trips: reserving waits for the server to hand it over, then gives it back.
        const held = await client.reserve(1);
        if (held) {
          await client.release(held.id, 0);
          return held;
        }
      }
    });
  }

  /** Replaces the record of `tube` with `body` (none: deletes it). */
  #replace(tube: string, body: Buffer | undefined): Promise<void> {
    return this.#with(tube, async (client) => {
      const deadline = Date.now() + WAIT_MS;
      const held = await client.reserveAll();
      while (held.length === 0 && total(await client.statsTube(tube)) > 0) {
        if (Date.now() > deadline)
          throw new TimeoutError(`a writer held the beanstalkd record '${tube}' for ${WAIT_MS} ms`);
        const job = await client.reserve(1);
        if (job) held.push(job);
      }
      if (held.length === 0 && body) {
        // The first record: made under the topology record's hold, so two writers cannot both make one.
        const made = await this.topology.exclusive(async () => {
          if (total(await client.statsTube(tube)) > 0) return false;
          await client.put(0, 0, RECORD_TTR_SECONDS, body);
          return true;
        });
        if (made) return;
        return this.#replace(tube, body);
      }
      if (body) await client.put(0, 0, RECORD_TTR_SECONDS, body);
      for (const job of held) await client.delete(job.id);
    });
  }

  /** One try at the lock: its job reserved on a connection kept open while held, or who holds it. */
  async #attempt(stack: string, holder: LockHolder): Promise<LockAttempt> {
    const tube = this.#tube('lock', stack);
    const client = await this.connect();
    try {
      await client.useOnly(tube);
      let job = await client.reserve(0);
      if (!job && total(await client.statsTube(tube)) === 0) {
        await this.topology.exclusive(async () => {
          if (total(await client.statsTube(tube)) === 0) await client.put(0, 0, LOCK_TTR_SECONDS, Buffer.from('lock'));
        });
        job = await client.reserve(0);
      }
      if (!job) {
        client.close();
        const record = await this.#peek(this.#tube('holder', stack));
        return { heldBy: record ? (JSON.parse(record.body.toString('utf8')) as LockHolder) : undefined };
      }
      await this.#replace(this.#tube('holder', stack), Buffer.from(JSON.stringify(holder)));
      return { lock: this.#held(stack, holder, client, job.id) };
    } catch (error) {
      client.close();
      throw error;
    }
  }

  #held(stack: string, holder: LockHolder, client: BeanstalkClient, jobId: number): StackLock {
    const touch = setInterval(() => void client.touch(jobId).catch(() => false), (LOCK_TTR_SECONDS * 1000) / 3);
    touch.unref();
    let released: Promise<void> | undefined;
    return {
      release: () => {
        released ??= (async () => {
          clearInterval(touch);
          try {
            const record = await this.#peek(this.#tube('holder', stack));
            const named = record ? (JSON.parse(record.body.toString('utf8')) as LockHolder) : undefined;
            if (named?.id === holder.id) await this.#replace(this.#tube('holder', stack), undefined);
          } finally {
            // The server gives the lock job to the next one as the connection closes.
            client.close();
          }
        })();
        return released;
      },
    };
  }
}
