/**
 * The dead-letter scenario every transport runs: a work queue whose rejected and expired messages the broker
 * dead-letters (with `x-death`) into a queue of its own, then list, show, replay and purge on it. Names are
 * random per run, so concurrent runs on one broker never meet.
 */
import { randomBytes } from 'node:crypto';
import {
  type Connection,
  Exchange,
  listDeadLetters,
  type Message,
  purgeDeadLetters,
  Queue,
  REPLAY_HEADER,
  replayDeadLetters,
  showDeadLetter,
} from '@wakame/core';
import { waitFor } from '@wakame/testkit';
import { expect } from 'vitest';

/** The entities of one run. */
export interface DeadLetterFixture {
  readonly jobs: string;
  readonly work: string;
  readonly dlq: string;
  /** Ids rejected by a consumer, in the order they were dead-lettered. */
  readonly rejected: readonly string[];
  /** Ids that expired in the work queue, after the rejected ones. */
  readonly expired: readonly string[];
  /** Deletes what the run declared. */
  readonly remove: () => Promise<void>;
}

const WAIT = { timeoutMs: 30_000 };

/** Declares the run's exchanges and queues and fills the dead-letter queue: 4 rejected, then 2 expired. */
export async function seedDeadLetters(connection: Connection): Promise<DeadLetterFixture> {
  const p = `dl-${randomBytes(4).toString('hex')}`;
  const jobs = new Exchange(`${p}.jobs`, { type: 'direct', durable: false });
  const dead = new Exchange(`${p}.dead`, { type: 'fanout', durable: false });
  const dlq = new Queue(`${p}.dlq`, { exchange: dead, durable: false });
  const work = new Queue(`${p}.work`, {
    exchange: jobs,
    routingKey: 'work',
    durable: false,
    deadLetter: { exchange: dead.name },
  });
  await connection.declare(jobs, dead, dlq, work);
  const remove = async () => {
    for (const q of [work.name, dlq.name]) await connection.admin.deleteQueue(q).catch(() => undefined);
    for (const e of [jobs.name, dead.name]) await connection.admin.deleteExchange(e).catch(() => undefined);
  };
  const producer = connection.producer({ exchange: jobs.name, routingKey: 'work' });
  const rejected = ['r-0', 'r-1', 'r-2', 'r-3'];
  const expired = ['e-0', 'e-1'];
  for (const [n, id] of rejected.entries())
    await producer.publish({ n }, { messageId: id, headers: { task: 'job.run' } });
  for (let i = 0; i < rejected.length; i++) {
    const message = await waitFor(() => connection.getMessage(work.name), { ...WAIT, what: 'a message to reject' });
    await message.reject();
  }
  await waitFor(async () => (await depth(connection, dlq.name)) === rejected.length, WAIT);
  // One at a time, so they reach the dead-letter queue in a known order.
  for (const [n, id] of expired.entries()) {
    await producer.publish({ n: 10 + n }, { messageId: id, expiration: 1, headers: { task: 'report.send' } });
    // Expired messages are dead-lettered at the head of their queue; a get lets the virtual stores notice,
    // RabbitMQ does it by itself.
    await waitFor(
      async () => {
        await connection.getMessage(work.name).then((m) => m?.requeue());
        return (await depth(connection, dlq.name)) === rejected.length + n + 1;
      },
      { ...WAIT, what: `${id} expired and dead-lettered` },
    );
  }
  return { jobs: jobs.name, work: work.name, dlq: dlq.name, rejected, expired, remove };
}

/** Ready messages in `queue`. */
export async function depth(connection: Connection, queue: string): Promise<number> {
  return (await connection.admin.declareQueue(new Queue(queue), { passive: true })).messageCount;
}

/** Takes (acks) every message of `queue`, in order. */
export async function drain(connection: Connection, queue: string): Promise<Message[]> {
  const taken: Message[] = [];
  for (;;) {
    const message = await connection.getMessage(queue);
    if (message === undefined) return taken;
    await message.ack();
    taken.push(message);
  }
}

/** How many times each message id is in `messages`. */
export function countById(messages: readonly Message[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of messages) {
    const id = String(m.properties.messageId);
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

/** list, show, dry runs and filters: nothing moves, nothing is reordered. */
export async function expectInspectionChangesNothing(connection: Connection, f: DeadLetterFixture): Promise<void> {
  const all = [...f.rejected, ...f.expired];
  const first = await listDeadLetters(connection, { queue: f.dlq });
  expect(first.messages.map((m) => m.id)).toEqual(all);
  expect(first.total).toBe(all.length);
  const r0 = first.messages[0];
  expect(r0).toMatchObject({ reason: 'rejected', by: 'broker', queue: f.work, task: 'job.run', replays: 0 });
  expect(r0?.origin).toEqual({ exchange: f.jobs, routingKey: 'work' });
  expect(Date.parse(r0?.deadLetteredAt ?? '')).toBeGreaterThan(Date.now() - 3_600_000);
  expect(first.messages[4]).toMatchObject({ reason: 'expired', task: 'report.send' });

  // Looked at twice: same messages, same order.
  expect((await listDeadLetters(connection, { queue: f.dlq })).messages.map((m) => m.id)).toEqual(all);
  expect((await listDeadLetters(connection, { queue: f.dlq, reason: 'expired' })).messages.map((m) => m.id)).toEqual(
    f.expired,
  );
  expect(
    (await listDeadLetters(connection, { queue: f.dlq, task: 'job.run', limit: 2 })).messages.map((m) => m.id),
  ).toEqual(f.rejected.slice(0, 2));
  expect((await listDeadLetters(connection, { queue: f.dlq, since: 3_600_000 })).messages).toHaveLength(all.length);
  expect(
    (await listDeadLetters(connection, { queue: f.dlq, since: new Date(Date.now() + 3_600_000) })).messages,
  ).toEqual([]);

  const shown = await showDeadLetter(connection, 'r-2', { queue: f.dlq });
  expect(shown.body).toEqual({ n: 2 });
  expect(Array.isArray(shown.headers['x-death'])).toBe(true);

  const dry = await replayDeadLetters(connection, { queue: f.dlq, dryRun: true });
  expect(dry.moved.map((m) => m.message.id)).toEqual(all);
  expect(dry.moved[0]?.to).toEqual({ exchange: '', routingKey: f.work });
  const dryPurge = await purgeDeadLetters(connection, { queue: f.dlq, dryRun: true, reason: 'expired' });
  expect(dryPurge.moved.map((m) => m.message.id)).toEqual(f.expired);
  expect(await depth(connection, f.work)).toBe(0);
  expect((await listDeadLetters(connection, { queue: f.dlq })).messages.map((m) => m.id)).toEqual(all);
}

/** Replay of the rejected ones, counted by id: each once in the work queue, gone from the dead letters. */
export async function expectReplayMovesOnce(connection: Connection, f: DeadLetterFixture): Promise<void> {
  const result = await replayDeadLetters(connection, { queue: f.dlq, reason: 'rejected' });
  expect(result.failed).toEqual([]);
  expect(result.skipped).toEqual([]);
  expect(result.moved.map((m) => m.message.id)).toEqual(f.rejected);

  const arrived = await waitFor(
    async () => {
      const n = await depth(connection, f.work);
      return n >= f.rejected.length ? n : undefined;
    },
    { ...WAIT, what: 'the replayed copies in the work queue' },
  );
  expect(arrived).toBe(f.rejected.length);
  const copies = await drain(connection, f.work);
  expect(countById(copies)).toEqual(Object.fromEntries(f.rejected.map((id) => [id, 1])));
  const copy = copies[0] as Message;
  expect(copy.payload).toEqual({ n: 0 });
  expect(copy.headers['x-death']).toBeUndefined();
  expect(copy.headers[REPLAY_HEADER]).toMatchObject({ count: 1, from: f.dlq, queue: f.work, reason: 'rejected' });
  expect(copy.headers.task).toBe('job.run');

  const left = await listDeadLetters(connection, { queue: f.dlq });
  expect(left.messages.map((m) => m.id)).toEqual(f.expired);

  // Purge with a filter removes that one and leaves the other.
  const purged = await purgeDeadLetters(connection, { queue: f.dlq, ids: ['e-1'] });
  expect(purged.moved.map((m) => m.message.id)).toEqual(['e-1']);
  expect((await listDeadLetters(connection, { queue: f.dlq })).messages.map((m) => m.id)).toEqual(['e-0']);
}

/** Replay to the origin: through the exchange and routing key the message had been published with. */
export async function expectReplayToOrigin(connection: Connection, f: DeadLetterFixture): Promise<void> {
  const result = await replayDeadLetters(connection, { queue: f.dlq, ids: ['e-0'], to: 'origin' });
  expect(result.moved.map((m) => m.to)).toEqual([{ exchange: f.jobs, routingKey: 'work' }]);
  const copies = await waitFor(async () => {
    const got = await drain(connection, f.work);
    return got.length > 0 ? got : undefined;
  }, WAIT);
  expect(countById(copies)).toEqual({ 'e-0': 1 });
  // The copy does not expire again: a replayed message has no expiration of its own left.
  expect(copies[0]?.properties.expiration).toBeUndefined();
  // Listed, not counted: a count comes over another channel and may not have seen the ack yet.
  expect((await listDeadLetters(connection, { queue: f.dlq })).messages).toEqual([]);
}
