/**
 * A {@link VirtualStore} on a SQL database, written once for every {@link SqlDialect}: a queue is the
 * rows of `<prefix>messages` with its name, delivered by `priority DESC, seq ASC`.
 *
 * - Claiming takes up to the consumer's prefetch room in one statement (PostgreSQL) or transaction
 *   (MariaDB) with `FOR UPDATE SKIP LOCKED`, so competing consumers never wait on each other's rows,
 *   and marks the rows with this store's owner name. A partial index over free rows keeps it an index
 *   scan at any depth.
 * - Leases belong to owners, not to messages (`sql-owners.ts`): a message is returned to its queue,
 *   flagged redelivered, once its owner stopped renewing, never while a slow handler still runs.
 * - Publishes, acks and requeues of one event-loop turn become one statement each (`sql-writes.ts`).
 *   A publish given the application's transaction is written at once on the application's client.
 * - Requeued and released messages keep their `seq`, so they return to their original place.
 *
 * @module
 */
import { hostname } from 'node:os';
import type {
  Claimed,
  ClaimOptions,
  PutOptions,
  QueueSpec,
  StackStateStore,
  StoredMessage,
  StoreFeatures,
  StoreOutcome,
  VirtualStore,
} from '@wakame/core/spi';
import { InvalidOperationError } from '@wakame/core/spi';
import type { SqlDialect, SqlRow } from './dialect.js';
import { guardedSql } from './errors.js';
import { migrate } from './migrate.js';
import { SqlOwners } from './sql-owners.js';
import { SqlStacks } from './sql-stacks.js';
import { type Epoch, epochFor, SqlTopology, TOPOLOGY_PAYLOAD } from './sql-topology.js';
import { SqlWrites } from './sql-writes.js';
import { Poller, type PollerOptions, RevisionProbe, SqlWakeups, unrefInterval } from './wakeups.js';

/** Options of {@link SqlStore}. */
export interface SqlStoreOptions {
  /** Names the tables (database, schema, prefix; no credentials): stores sharing it share in-process state. */
  readonly identity: string;
  /** Where the tables are, for messages (no credentials). */
  readonly where: string;
  /** How long a stopped process's claims are held before they are restored (ms). @defaultValue 30_000 */
  readonly leaseMs?: number;
  /** The poll of stores whose database has no notifications. @defaultValue 5 ms doubling to 200 ms */
  readonly poll?: PollerOptions;
  /** Problems with no caller (a failed background renewal or sweep). */
  readonly onError?: (error: unknown) => void;
}

/** The store's token for a claimed message. */
interface Receipt {
  readonly seq: number;
  readonly queue: string;
  settled: boolean;
}

/** A body bound that means none (a claim statement keeps one shape). */
const NO_BOUND = 2_147_483_647;
const CLAIM_COLUMNS =
  'seq, queue, msg_id, priority, properties, exchange, routing_key, expires_at, redelivered, body_size, ' +
  'CASE WHEN body_size > ? THEN NULL ELSE body END AS body';

export class SqlStore implements VirtualStore {
  readonly kind: string;
  readonly identity: string;
  readonly features: StoreFeatures;
  readonly topology: SqlTopology;
  /** Identifies this store's claims; its row in `<prefix>owners` vouches for them. */
  readonly owner = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  readonly #dialect: SqlDialect;
  readonly #options: SqlStoreOptions;
  readonly #epoch: Epoch;
  readonly #wakeups = new SqlWakeups();
  readonly #writes: SqlWrites;
  readonly #stacks: SqlStacks;
  readonly #owners: SqlOwners;
  readonly #held = new Map<number, Receipt>();
  readonly #timers: NodeJS.Timeout[] = [];
  #poller: Poller | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';

  constructor(dialect: SqlDialect, options: SqlStoreOptions) {
    this.kind = dialect.kind;
    this.#dialect = dialect;
    this.#options = options;
    this.identity = options.identity;
    this.features = Object.freeze({
      priority: true,
      persistence: true,
      crossProcess: true,
      transactionalPut: dialect.inTransaction !== undefined,
    });
    this.#epoch = epochFor(options.identity);
    this.topology = new SqlTopology(dialect, this.#epoch, this.#guard);
    this.#writes = new SqlWrites(dialect, this.owner, (queues) => this.#wrote(queues), this.#guard);
    this.#owners = new SqlOwners(dialect, this.owner, this.#leaseMs, this.#guard, this.#report);
    // Same lease as the claims: a crashed apply's lock lapses as soon as its messages come back.
    this.#stacks = new SqlStacks(dialect, {
      leaseMs: this.#leaseMs,
      where: options.where,
      guard: this.#guard,
      onError: this.#report,
    });
  }

  /** State documents and apply locks of `wakame apply` (see {@link StackStateStore}). */
  get stacks(): StackStateStore {
    return this.#stacks;
  }

  get #leaseMs(): number {
    return this.#options.leaseMs ?? 30_000;
  }

  readonly #report = (error: unknown): void => this.#options.onError?.(error);

  readonly #guard = <T>(promise: Promise<T>): Promise<T> =>
    guardedSql(promise, this.#dialect.errorCodes, this.#options.where);

  async open(): Promise<void> {
    await this.#guard(migrate(this.#dialect, `wakame:${this.identity}`));
    await this.#owners.renew();
    const listen = this.#dialect.listen?.bind(this.#dialect);
    if (listen) {
      this.#unlisten = await this.#guard(
        listen(
          (payload) => this.#heard(payload),
          () => this.#resync(),
        ),
      );
    } else {
      const { messages } = this.#dialect.tables;
      // Per consumed queue, whether it has a free message (an index probe).
      const probe = new RevisionProbe(
        this.#dialect,
        this.#wakeups,
        this.#epoch,
        `SELECT 1 FROM ${messages} WHERE queue = ? AND lease_owner IS NULL LIMIT 1`,
      );
      this.#poller = new Poller(() => probe.poll(), this.#report, this.#options.poll);
      this.#poller.start();
    }
    this.#state = 'open';
    const jitter = Math.floor(Math.random() * 250);
    this.#timers.push(
      unrefInterval(this.#leaseMs / 3, () => this.#renewed(), this.#report),
      unrefInterval(this.#leaseMs / 2 + jitter, () => this.#restore(), this.#report),
    );
    await this.#restore();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    for (const timer of this.#timers) clearInterval(timer);
    this.#poller?.stop();
    try {
      if (wasOpen) {
        await this.#writes.flush();
        // Whatever is still held (claimed, never handed out) goes back untouched.
        for (const receipt of [...this.#held.values()]) await this.settle(receipt, 'release');
        await this.#writes.flush();
        await this.#stacks.close();
        await this.#owners.leave();
      }
      await this.#unlisten?.().catch(this.#report);
    } finally {
      await this.#dialect.close();
    }
  }

  async createQueue(): Promise<void> {}

  async deleteQueue(name: string): Promise<number> {
    const t = this.#dialect.tables;
    const ready = await this.size(name);
    await this.#guard(this.#dialect.query(`DELETE FROM ${t.messages} WHERE queue = ?`, [name]));
    await this.#guard(this.#dialect.query(`DELETE FROM ${t.consumers} WHERE queue = ?`, [name]));
    return ready;
  }

  /**
   * Stores `message` at the back of `queue`: with the other puts of this turn, or, given
   * `options.transaction` (the application's client, see {@link SqlDialect.inTransaction}), at once
   * in that transaction, so that it exists if and only if the application commits.
   */
  async put(queue: string, message: StoredMessage, options?: PutOptions): Promise<void> {
    if (options?.transaction === undefined) return this.#writes.put(queue, message);
    const inTransaction = this.#dialect.inTransaction?.bind(this.#dialect);
    if (!inTransaction) throw new InvalidOperationError(`${this.kind} store cannot write in a transaction`);
    await this.#writes.putIn(inTransaction(options.transaction), queue, message);
  }

  async get(queue: string, options?: ClaimOptions): Promise<Claimed | undefined> {
    return (await this.getMany(queue, 1, options))[0];
  }

  /**
   * Claims up to `max` messages in one round trip. With `maxBodyBytes`, a larger body stays in the
   * database (its stored size says so without reading it) and {@link SqlStore.readBody} fetches it.
   */
  async getMany(queue: string, max: number, options: ClaimOptions = {}): Promise<Claimed[]> {
    const bound = options.maxBodyBytes;
    const rows = await this.#guard(
      this.#dialect.claim({
        columns: CLAIM_COLUMNS,
        columnParams: [bound !== undefined && Number.isFinite(bound) ? bound : NO_BOUND],
        queue,
        max,
        owner: this.owner,
      }),
    );
    if (rows.length > 0) this.#poller?.poke();
    const claimed = rows.map(toClaimed).sort(inQueueOrder);
    for (const c of claimed) this.#held.set((c.receipt as Receipt).seq, c.receipt as Receipt);
    return claimed;
  }

  settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    const r = receipt as Receipt;
    if (r.settled) return Promise.resolve();
    r.settled = true;
    this.#held.delete(r.seq);
    return this.#writes.settle(outcome, r.seq, r.queue);
  }

  /** The body of a message claimed without it (over the bound), for a dead-lettered copy. */
  async readBody(receipt: unknown): Promise<Buffer> {
    const sql = `SELECT body FROM ${this.#dialect.tables.messages} WHERE seq = ?`;
    const { rows } = await this.#guard(this.#dialect.query(sql, [(receipt as Receipt).seq]));
    return asBuffer(rows[0]?.body);
  }

  async purge(queue: string): Promise<number> {
    const sql = `DELETE FROM ${this.#dialect.tables.messages} WHERE queue = ? AND lease_owner IS NULL`;
    return (await this.#guard(this.#dialect.query(sql, [queue]))).affected;
  }

  async size(queue: string): Promise<number> {
    const sql = `SELECT COUNT(*) AS n FROM ${this.#dialect.tables.messages} WHERE queue = ? AND lease_owner IS NULL`;
    const { rows } = await this.#guard(this.#dialect.query(sql, [queue]));
    return Number(rows[0]?.n ?? 0);
  }

  async sizeBytes(queue: string): Promise<number> {
    const sql = `SELECT COALESCE(SUM(body_size), 0) AS n FROM ${this.#dialect.tables.messages} WHERE queue = ? AND lease_owner IS NULL`;
    const { rows } = await this.#guard(this.#dialect.query(sql, [queue]));
    return Number(rows[0]?.n ?? 0);
  }

  watch(listener: (queue: string) => void): () => void {
    return this.#wakeups.listen(listener);
  }

  /**
   * Counted here at once (so this process's own auto-delete check sees it) and in `<prefix>consumers`
   * for other processes; the table writes are chained so that an add and its release cannot swap.
   */
  addConsumer(queue: string): () => void {
    return this.#owners.track(queue, this.#wakeups);
  }

  /** Consumers of `queue`: this process's, plus those of other live owners. */
  async consumerCount(queue: string): Promise<number> {
    return this.#owners.consuming(queue, this.#wakeups);
  }

  /**
   * The new record and every ready message's priority re-clamped from its own `properties.priority`
   * to `to.maxPriority`, in one transaction: a claimer sees the old order or the new one, never half.
   * Claimed messages keep the priority they had; they are not in the queue.
   */
  async reconfigureQueue(_from: QueueSpec, to: QueueSpec): Promise<void> {
    await this.#writes.flush();
    const d = this.#dialect;
    const priority = to.maxPriority === undefined ? '0' : 'LEAST(COALESCE(wanted_priority, 0), ?)';
    await this.#guard(
      d.transaction(async (tx) => {
        await this.topology.replaceQueue(tx, to);
        await tx.query(
          `UPDATE ${d.tables.messages} SET priority = ${priority} WHERE queue = ? AND lease_owner IS NULL`,
          to.maxPriority === undefined ? [to.name] : [to.maxPriority, to.name],
        );
        await d.notify(tx, `q:${to.name}`);
      }),
    );
    this.topology.changed(to);
    this.#wakeups.notify(to.name);
  }

  // ---------------------------------------------------------------------------------------------

  /** This process wrote ready messages to `queues`: its consumers look now. */
  #wrote(queues: Iterable<string>): void {
    for (const queue of queues) this.#wakeups.notify(queue);
    this.#poller?.poke();
  }

  /** A notification from the database (PostgreSQL): a queue's payload, or the topology's. */
  #heard(payload: string): void {
    if (payload === TOPOLOGY_PAYLOAD) {
      this.#epoch.value++;
      // Consumers look again now that the topology moved: their queue may be gone.
      this.#wakeups.all();
    } else if (payload.startsWith('q:')) {
      const queue = payload.slice(2);
      if (this.#wakeups.consumers(queue) > 0) this.#wakeups.notify(queue);
    }
  }

  /** After the listening connection came back: anything may have changed meanwhile. */
  #resync(): void {
    this.#epoch.value++;
    this.#wakeups.all();
  }

  /** The renewal timer's work, plus a wake-up of every consumer: a notification lost with a connection is made up for. */
  async #renewed(): Promise<void> {
    await this.#owners.renew();
    this.#wakeups.all();
  }

  async #restore(): Promise<void> {
    const queues = await this.#owners.restore();
    if (queues.length > 0) this.#wrote(queues);
  }
}

function toClaimed(row: SqlRow): Claimed {
  const body = row.body === null ? Buffer.alloc(0) : asBuffer(row.body);
  const properties = typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties;
  const message: StoredMessage = {
    id: String(row.msg_id),
    body,
    properties: properties as StoredMessage['properties'],
    exchange: String(row.exchange),
    routingKey: String(row.routing_key),
    priority: Number(row.priority),
    expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
    redelivered: Boolean(row.redelivered),
  };
  const receipt: Receipt = { seq: Number(row.seq), queue: String(row.queue), settled: false };
  return { message: row.body === null ? { ...message, withheldBodyBytes: Number(row.body_size) } : message, receipt };
}

function inQueueOrder(a: Claimed, b: Claimed): number {
  return b.message.priority - a.message.priority || (a.receipt as Receipt).seq - (b.receipt as Receipt).seq;
}

function asBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  return value === null || value === undefined ? Buffer.alloc(0) : Buffer.from(String(value));
}
