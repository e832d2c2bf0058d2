/**
 * Dead letters on real servers: RabbitMQ's own dead-lettering (`x-death`, `x-first-death-*` written by the
 * broker) and Redis (the virtual transport's, in a database and key prefix of this file's own). The same scenario
 * as memory:// and file://, plus the crash of a replaying process between copy and ack.
 */
import { randomBytes } from 'node:crypto';
import { Connection } from '@wakame/core';
import { AMQP_URL, brokerGate, REDIS_URL, redisUrl } from '@wakame/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expectCrashDuplicatesNeverLoses } from './crash.js';
import {
  type DeadLetterFixture,
  expectInspectionChangesNothing,
  expectReplayMovesOnce,
  expectReplayToOrigin,
  seedDeadLetters,
} from './scenario.js';

const rabbit = await brokerGate('dead letters on RabbitMQ', { name: 'rabbitmq', url: AMQP_URL });
const redis = await brokerGate('dead letters on Redis', { name: 'redis', url: REDIS_URL });

/** Redis database of this file; nothing is flushed, the keys of each prefix are deleted afterwards. */
const REDIS_DB = 9;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function open(url: string): Promise<{ connection: Connection; fixture: DeadLetterFixture }> {
  const connection = await Connection.open(url);
  cleanup.push(() => connection.close());
  const fixture = await seedDeadLetters(connection);
  cleanup.push(fixture.remove);
  return { connection, fixture };
}

describe.skipIf(rabbit === 'skip')('dead letters on RabbitMQ', () => {
  it('reads the x-death RabbitMQ wrote; list, show and dry runs change nothing', { timeout: 120_000 }, async () => {
    const { connection, fixture } = await open(AMQP_URL);
    await expectInspectionChangesNothing(connection, fixture);
  });

  it('replay moves each id once with confirms; purge removes only what matches', { timeout: 120_000 }, async () => {
    const { connection, fixture } = await open(AMQP_URL);
    await expectReplayMovesOnce(connection, fixture);
    await expectReplayToOrigin(connection, fixture);
  });

  it('a replaying process killed between copy and ack duplicates one id and loses none', {
    timeout: 180_000,
  }, async () => {
    const { connection, fixture } = await open(AMQP_URL);
    await expectCrashDuplicatesNeverLoses(connection, AMQP_URL, fixture);
  });
});

describe.skipIf(redis === 'skip')('dead letters on Redis', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    const raw = new Redis(redisUrl(REDIS_DB));
    for (const prefix of prefixes) {
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
    }
    raw.disconnect();
  });
  function url(): string {
    const prefix = `dl${randomBytes(4).toString('hex')}:`;
    prefixes.push(prefix);
    // A short lease: the crash test waits for a killed process's messages to come back.
    return redisUrl(REDIS_DB, `keyprefix=${prefix}&lease=1000`);
  }

  it('list, show and dry runs change nothing', { timeout: 120_000 }, async () => {
    const { connection, fixture } = await open(url());
    await expectInspectionChangesNothing(connection, fixture);
  });

  it('replay moves each id once; purge removes only what matches', { timeout: 120_000 }, async () => {
    const { connection, fixture } = await open(url());
    await expectReplayMovesOnce(connection, fixture);
    await expectReplayToOrigin(connection, fixture);
  });

  it('a replaying process killed between copy and ack duplicates one id and loses none', {
    timeout: 180_000,
  }, async () => {
    const u = url();
    const { connection, fixture } = await open(u);
    await expectCrashDuplicatesNeverLoses(connection, u, fixture);
    expect(fixture.dlq).toMatch(/^dl-/);
  });
});
