import { randomBytes } from 'node:crypto';
import { brokerGate, POSTGRES_URL, runTransportConformance } from '@wakame/testkit';
import pg from 'pg';
import { afterAll } from 'vitest';

// Each test gets a schema of its own (a fresh broker), dropped once the suite is done.
const gate = await brokerGate('postgres conformance', { name: 'postgres', url: POSTGRES_URL });
const schemas: string[] = [];

runTransportConformance({
  name: 'postgres',
  url: () => {
    const schema = `conformance_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    return `${POSTGRES_URL}?schema=${schema}`;
  },
  skip: gate === 'skip',
});

afterAll(async () => {
  if (gate === 'skip' || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
});
