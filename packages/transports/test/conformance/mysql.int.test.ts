import { randomBytes } from 'node:crypto';
import { brokerGate, MYSQL_URL, runTransportConformance } from '@wakame/testkit';
import mysql from 'mysql2/promise';
import { afterAll } from 'vitest';

// Each test gets a table prefix of its own (a fresh broker); its tables are dropped once the suite is done.
const gate = await brokerGate('mysql conformance', { name: 'mysql', url: MYSQL_URL });
const prefixes: string[] = [];

runTransportConformance({
  name: 'mysql',
  url: () => {
    const prefix = `conformance_${randomBytes(4).toString('hex')}_`;
    prefixes.push(prefix);
    return `${MYSQL_URL}?prefix=${prefix}`;
  },
  skip: gate === 'skip',
});

afterAll(async () => {
  if (gate === 'skip' || prefixes.length === 0) return;
  const conn = await mysql.createConnection(MYSQL_URL);
  try {
    for (const prefix of prefixes) {
      const tables = ['messages', 'records', 'owners', 'consumers', 'stacks', 'schema'].map((t) => prefix + t);
      await conn.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
    }
  } finally {
    await conn.end();
  }
});
