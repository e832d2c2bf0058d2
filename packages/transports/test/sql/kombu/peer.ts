/**
 * The Python side of the kombu interop suites on a database (`../kombu-*.int.test.ts`): `kombu_sql_peer.py` (kombu's
 * SQLAlchemy transport, run with the system interpreter; the runner is shared, `../../kombu-common/peer.ts`), its
 * output shapes, and the databases both sides share.
 *
 * Each suite works in tables of its own: on PostgreSQL a fresh schema `kombu_<random>` of the test database (Wakame
 * through `?schema=`, kombu through libpq's `options=-csearch_path=`), on MariaDB a fresh database
 * `wakame_test_kombu_<random>`; both are dropped after the suite. kombu's table names are fixed, so nothing else can
 * give a suite tables of its own, and nothing here touches any other schema or database.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { MYSQL_URL, POSTGRES_URL } from '@wakame/testkit';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import {
  HOOK_TIMEOUT_MS,
  type KombuDrainOf,
  type KombuEnvelope,
  type KombuEnvelopeMessage,
  type KombuSuite,
  kombuSuite,
  type PeerInfo,
  peerRunner,
  type SentVariant,
} from '../../kombu-common/peer.js';

export const runPeer = peerRunner(fileURLToPath(new URL('./kombu_sql_peer.py', import.meta.url)));

/** `kombu_sql_peer.py probe`. */
export interface SqlPeerInfo extends PeerInfo {
  readonly sqlalchemy: string;
  readonly server?: string;
}

/** kombu's JSON envelope, as stored in `kombu_message.payload`. */
export type Envelope = KombuEnvelope;

/** One entry of `kombu_sql_peer.py publish`: the exact payload kombu's `_put` stored. */
export interface Sent extends SentVariant {
  readonly stored: readonly { readonly queue: string; readonly raw: string }[];
  readonly envelope: Envelope | null;
}

/** What kombu made of one message (`kombu_sql_peer.py consume`). */
export interface KombuReceived extends KombuEnvelopeMessage {
  // `delivery_info.redelivered` is the envelope's: kombu's SQL transport itself never sets it.
  readonly settled?: 'requeue';
}

export type KombuDrain = KombuDrainOf<KombuReceived>;

/** One row of `kombu_message` (`kombu_sql_peer.py rows`). */
export interface Row {
  readonly id: number;
  readonly visible: boolean | null;
  readonly timestamp: string | null;
  readonly version: number;
  readonly queue: string | null;
  readonly payload: string;
}

/** A database both sides reach: kombu's URL, Wakame's, and a plain SQL session for assertions. */
export interface Tables {
  /** `sqla+…` for the Python peer. */
  readonly kombuUrl: string;
  /** `postgres://…?layout=kombu…` or `mysql://…?layout=kombu`. */
  readonly wakameUrl: string;
  /** Runs one statement on the suite's schema or database (tests' own look at the tables). */
  query(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
}

/** One database kind the suites run on. */
export interface Target {
  readonly name: 'PostgreSQL' | 'MariaDB';
  readonly broker: { readonly name: 'postgres' | 'mysql'; readonly url: string };
  /** Makes fresh tables' home (a schema, a database) and returns how to reach it and how to drop it. */
  fresh(): Promise<Tables & { drop(): Promise<void> }>;
}

const hex = () => randomBytes(4).toString('hex');

const postgres: Target = {
  name: 'PostgreSQL',
  broker: { name: 'postgres', url: POSTGRES_URL },
  async fresh() {
    const schema = `kombu_${hex()}`;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    const base = new URL(POSTGRES_URL);
    const sep = base.search === '' ? '?' : '&';
    return {
      kombuUrl: `sqla+postgresql://${POSTGRES_URL.replace(/^postgres(ql)?:\/\//, '')}${sep}options=-csearch_path%3D${schema}`,
      wakameUrl: `${POSTGRES_URL}${sep}layout=kombu&schema=${schema}`,
      async query(sql, params = []) {
        const text = sql.replaceAll('%s', schema);
        let n = 0;
        return (
          await client.query(
            text.replace(/\?/g, () => `$${++n}`),
            params as unknown[],
          )
        ).rows;
      },
      async drop() {
        try {
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  },
};

const mariadb: Target = {
  name: 'MariaDB',
  broker: { name: 'mysql', url: MYSQL_URL },
  async fresh() {
    const database = `wakame_test_kombu_${hex()}`;
    const admin = await mysql.createConnection(MYSQL_URL);
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.query(`USE ${database}`);
    const at = new URL(MYSQL_URL);
    at.pathname = `/${database}`;
    const plain = at.toString();
    return {
      kombuUrl: `sqla+mysql+pymysql://${plain.replace(/^(mysql|mariadb):\/\//, '')}`,
      wakameUrl: `${plain}${at.search === '' ? '?' : '&'}layout=kombu`,
      async query(sql, params = []) {
        const [rows] = await admin.query(sql.replaceAll('%s.', ''), params as unknown[]);
        return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      },
      async drop() {
        // Only the database this suite made: its name is checked, never taken from elsewhere.
        try {
          if (/^wakame_test_kombu_[0-9a-f]{8}$/.test(database))
            await admin.query(`DROP DATABASE IF EXISTS ${database}`);
        } finally {
          await admin.end();
        }
      },
    };
  },
};

export const TARGETS: readonly Target[] = [postgres, mariadb];

/** The gate of a suite on `target`: the database reachable and the kombu peer able to reach it. */
export function kombuSqlSuite(suite: string, target: Target): Promise<KombuSuite<SqlPeerInfo>> {
  const probeUrl =
    target.name === 'PostgreSQL'
      ? `sqla+postgresql://${POSTGRES_URL.replace(/^postgres(ql)?:\/\//, '')}`
      : `sqla+mysql+pymysql://${MYSQL_URL.replace(/^(mysql|mariadb):\/\//, '')}`;
  return kombuSuite<SqlPeerInfo>({
    suite: `${suite} on ${target.name}`,
    broker: target.broker,
    runPeer,
    probe: ['probe', '--url', probeUrl],
    packages: [
      'python3-kombu',
      'python3-sqlalchemy',
      target.name === 'PostgreSQL' ? 'python3-psycopg2' : 'python3-pymysql',
    ],
    cannot: `cannot import kombu, SQLAlchemy and the driver, or reach ${target.name}`,
    none: { kombu: '', sqlalchemy: '', python: '', msgpack: false, yaml: false, variants: [] },
  });
}

/** Fresh tables for the enclosing suite (made before it, dropped after it); read `current()` inside tests and hooks. */
export function freshTables(target: Target, run: boolean): () => Tables {
  let tables: (Tables & { drop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    if (run) tables = await target.fresh();
  }, HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await tables?.drop();
  }, HOOK_TIMEOUT_MS);
  return () => {
    if (tables === undefined) throw new Error('the suite has no tables (skipped, or its beforeAll failed)');
    return tables;
  };
}

/** Every row of `kombu_message`, through kombu's own SQLAlchemy. */
export function kombuRows(tables: Tables): Promise<Row[]> {
  return runPeer<Row[]>(['rows', '--url', tables.kombuUrl]);
}
