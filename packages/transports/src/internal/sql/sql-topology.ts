/**
 * Topology records in the `<prefix>records` table, shared by every process on the database: one
 * row per exchange, queue, binding and policy (`kind`, a hash of its identity, its spec as JSON).
 * Every change runs in one transaction with a bump of the `revision` row and, on PostgreSQL, a
 * notification, so other processes learn that their compiled routing table is stale.
 *
 * The revision the transport reads on every publish is a local counter (a network read per publish
 * would halve throughput): this process's writes move it at once, other processes' when their
 * notification (or the MariaDB poll of the `revision` row) arrives, within milliseconds.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type {
  BindingSpec,
  ExchangeSpec,
  PolicySpec,
  QueueSpec,
  TopologySnapshot,
  TopologyStore,
} from '@wakame/core/spi';
import { bindingKey, policyKeyOf, policyRecordKey } from '@wakame/core/spi';
import type { SqlDialect, SqlExecutor } from './dialect.js';
import { REVISION_ROW } from './migrate.js';

/** A revision counter shared by every store instance of one process that reaches the same tables. */
export interface Epoch {
  value: number;
}

const epochs = new Map<string, Epoch>();

/** The {@link Epoch} of the tables `identity` names (one per process, whichever store reaches them). */
export function epochFor(identity: string): Epoch {
  let epoch = epochs.get(identity);
  if (!epoch) {
    epoch = { value: 0 };
    epochs.set(identity, epoch);
  }
  return epoch;
}

/** The payload that tells other processes the topology changed. */
export const TOPOLOGY_PAYLOAD = 't';

type Kind = 'exchange' | 'queue' | 'binding' | 'policy';

export class SqlTopology implements TopologyStore {
  /** Queue records as of the last snapshot or local write. */
  readonly queueSpecs = new Map<string, QueueSpec>();

  constructor(
    private readonly dialect: SqlDialect,
    private readonly epoch: Epoch,
    private readonly guard: <T>(promise: Promise<T>) => Promise<T>,
  ) {}

  revision(): number {
    return this.epoch.value;
  }

  async snapshot(): Promise<TopologySnapshot> {
    const revision = this.epoch.value;
    const { rows } = await this.guard(this.dialect.query(`SELECT kind, spec FROM ${this.dialect.tables.records}`));
    const exchanges: ExchangeSpec[] = [];
    const queues: QueueSpec[] = [];
    const bindings: BindingSpec[] = [];
    const policies: PolicySpec[] = [];
    for (const row of rows) {
      const spec: unknown = JSON.parse(String(row.spec));
      if (row.kind === 'exchange') exchanges.push(spec as ExchangeSpec);
      else if (row.kind === 'queue') queues.push(spec as QueueSpec);
      else if (row.kind === 'binding') bindings.push(spec as BindingSpec);
      else if (row.kind === 'policy') policies.push(spec as PolicySpec);
    }
    this.queueSpecs.clear();
    for (const q of queues) this.queueSpecs.set(q.name, q);
    return { revision, exchanges, queues, bindings, policies };
  }

  putExchange(spec: ExchangeSpec): Promise<void> {
    return this.#change((tx) => this.#put(tx, 'exchange', spec.name, spec));
  }

  async deleteExchange(name: string): Promise<void> {
    await this.#change((tx) => this.#delete(tx, 'exchange', name));
  }

  putQueue(spec: QueueSpec): Promise<void> {
    this.queueSpecs.set(spec.name, spec);
    return this.#change((tx) => this.#put(tx, 'queue', spec.name, spec));
  }

  async deleteQueue(name: string): Promise<void> {
    this.queueSpecs.delete(name);
    await this.#change((tx) => this.#delete(tx, 'queue', name));
  }

  async addBinding(binding: BindingSpec): Promise<boolean> {
    const t = this.dialect.tables;
    return this.#change(async (tx) => {
      const { affected } = await tx.query(this.dialect.insertIgnore(t.records, ['kind', 'rkey', 'spec']), [
        'binding',
        recordKey(bindingKey(binding)),
        JSON.stringify(binding),
      ]);
      return affected > 0;
    });
  }

  removeBinding(binding: BindingSpec): Promise<boolean> {
    return this.#change((tx) => this.#delete(tx, 'binding', bindingKey(binding)));
  }

  putPolicy(spec: PolicySpec): Promise<void> {
    return this.#change((tx) => this.#put(tx, 'policy', policyKeyOf(spec), spec));
  }

  async deletePolicy(operator: boolean, vhost: string, name: string): Promise<void> {
    await this.#change((tx) => this.#delete(tx, 'policy', policyRecordKey(operator, vhost, name)));
  }

  /** Replaces a queue's record inside a caller's transaction (a migration), bumping the revision. */
  async replaceQueue(tx: SqlExecutor, spec: QueueSpec): Promise<void> {
    await this.#put(tx, 'queue', spec.name, spec);
    await this.#bump(tx);
  }

  /** A local write (or a migration) changed the records: this process routes by them at once. */
  changed(spec?: QueueSpec): void {
    if (spec) this.queueSpecs.set(spec.name, spec);
    this.epoch.value++;
  }

  async #put(tx: SqlExecutor, kind: Kind, identity: string, spec: object): Promise<void> {
    const sql = this.dialect.upsert(this.dialect.tables.records, ['kind', 'rkey'], ['kind', 'rkey', 'spec'], ['spec']);
    await tx.query(sql, [kind, recordKey(identity), JSON.stringify(spec)]);
  }

  /** @returns whether a record went. */
  async #delete(tx: SqlExecutor, kind: Kind, identity: string): Promise<boolean> {
    const sql = `DELETE FROM ${this.dialect.tables.records} WHERE kind = ? AND rkey = ?`;
    return (await tx.query(sql, [kind, recordKey(identity)])).affected > 0;
  }

  async #bump(tx: SqlExecutor): Promise<void> {
    await tx.query(`UPDATE ${this.dialect.tables.schema} SET value = value + 1 WHERE name = ?`, [REVISION_ROW]);
    await this.dialect.notify(tx, TOPOLOGY_PAYLOAD);
  }

  /** Runs `write` and the revision bump in one transaction; moves the local revision once committed. */
  async #change<T>(write: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const result = await this.guard(
      this.dialect.transaction(async (tx) => {
        const value = await write(tx);
        await this.#bump(tx);
        return value;
      }),
    );
    this.epoch.value++;
    return result;
  }
}

/**
 * A record's key column: a hash of its identity, so that long binding keys (and the NUL separators
 * of policy keys, which PostgreSQL text cannot hold) fit a fixed-width primary key.
 */
function recordKey(identity: string): string {
  return createHash('sha256').update(identity).digest('hex');
}
