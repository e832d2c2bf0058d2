/**
 * The PostgreSQL claim runs as one simple query with its own `SET LOCAL`s (the plan pinned to the
 * ready index, the commit relaxed) and its values inlined as literals: a queue name that needs
 * escaping still claims its own messages, and nothing the claim sets outlives its transaction on the
 * pooled connection (the application's pool here, so the test can look at that connection).
 */
import { randomBytes } from 'node:crypto';
import { Connection, Queue } from '@wakame/core';
import { brokerGate, POSTGRES_URL } from '@wakame/testkit';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const gate = await brokerGate('postgres claim', { name: 'postgres', url: POSTGRES_URL });
const schema = `claim_${randomBytes(4).toString('hex')}`;

describe.skipIf(gate === 'skip')('postgres claim', () => {
  afterAll(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
  });

  it('claims from a queue whose name needs escaping, and leaves the session settings as they were', async () => {
    // One connection: every claim and every check below runs on it.
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const connection = await Connection.open(`${POSTGRES_URL}?schema=${schema}`, { transportOptions: { pool } });
    try {
      const odd = new Queue(`it's a \\ "queue" ü?`, { durable: true });
      const plain = new Queue('plain', { durable: true });
      await connection.declare(odd);
      await connection.declare(plain);
      await connection.producer({ routingKey: odd.name }).publish({ n: 1 });
      await connection.producer({ routingKey: plain.name }).publish({ n: 2 });
      const got = await connection.getMessage(odd.name);
      expect(got?.payload).toEqual({ n: 1 });
      await got?.ack();
      expect(await connection.getMessage(odd.name)).toBeUndefined();
      const settings = await pool.query(
        "SELECT current_setting('synchronous_commit') AS sc, current_setting('enable_bitmapscan') AS bitmap, current_setting('enable_seqscan') AS seq",
      );
      expect(settings.rows[0]).toEqual({ sc: 'on', bitmap: 'on', seq: 'on' });
    } finally {
      await connection.close();
      await pool.end();
    }
  });
});
