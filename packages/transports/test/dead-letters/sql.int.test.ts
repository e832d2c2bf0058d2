/**
 * Dead letters on PostgreSQL and MariaDB (the virtual transport's dead-lettering, in tables): the same scenario as
 * the other transports, in tables of this run's own prefix, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Connection } from '@wakame/core';
import { brokerGate, MYSQL_URL, POSTGRES_URL } from '@wakame/testkit';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';
import { expectCrashDuplicatesNeverLoses } from './crash.js';
import {
  expectInspectionChangesNothing,
  expectReplayMovesOnce,
  expectReplayToOrigin,
  seedDeadLetters,
} from './scenario.js';

const TABLES = ['messages', 'records', 'owners', 'consumers', 'stacks', 'schema'];

const databases = [
  {
    name: 'PostgreSQL',
    base: POSTGRES_URL,
    gate: await brokerGate('dead letters on PostgreSQL', { name: 'postgres', url: POSTGRES_URL }),
    drop: async (prefix: string) => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client
        .query(`DROP TABLE IF EXISTS ${TABLES.map((t) => prefix + t).join(', ')}`)
        .finally(() => client.end());
    },
  },
  {
    name: 'MariaDB',
    base: MYSQL_URL,
    gate: await brokerGate('dead letters on MariaDB', { name: 'mysql', url: MYSQL_URL }),
    drop: async (prefix: string) => {
      const conn = await mysql.createConnection(MYSQL_URL);
      await conn.query(`DROP TABLE IF EXISTS ${TABLES.map((t) => prefix + t).join(', ')}`).finally(() => conn.end());
    },
  },
];

describe.each(databases)('dead letters on $name', ({ base, gate, drop }) => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await drop(prefix);
  });
  /** Tables of a prefix of their own; a short lease for the crash test. */
  function url(): string {
    const prefix = `dl${randomBytes(4).toString('hex')}_`;
    prefixes.push(prefix);
    return `${base}?prefix=${prefix}&lease=1000`;
  }

  it.skipIf(gate === 'skip')(
    'inspection changes nothing; replay moves each id once; purge by filter',
    { timeout: 180_000 },
    async () => {
      const connection = await Connection.open(url());
      try {
        const fixture = await seedDeadLetters(connection);
        await expectInspectionChangesNothing(connection, fixture);
        await expectReplayMovesOnce(connection, fixture);
        await expectReplayToOrigin(connection, fixture);
      } finally {
        await connection.close();
      }
    },
  );

  it.skipIf(gate === 'skip')(
    'a replaying process killed between copy and ack duplicates one id and loses none',
    { timeout: 180_000 },
    async () => {
      const u = url();
      const connection = await Connection.open(u);
      try {
        await expectCrashDuplicatesNeverLoses(connection, u, await seedDeadLetters(connection));
      } finally {
        await connection.close();
      }
    },
  );
});
