/**
 * A {@link VirtualStore} over kombu's SQLAlchemy tables (`kombu_queue`, `kombu_message`, see
 * `kombu-sql.ts`), so that a Python service on kombu's `sqla+…` transport and a Wakame service share
 * queues both ways. Messages are kombu's JSON envelope (`kombu-envelope.ts`); kombu's tables keep
 * kombu's shape, and what Wakame needs beyond them lives in tables of its own (`<prefix>…`).
 *
 * How a message moves, and how that meets kombu's own consumers:
 * - put: one row, `visible` TRUE, `timestamp` NULL, `version` 1, as kombu's `_put` writes it.
 * - claim: `FOR UPDATE SKIP LOCKED`, then `visible` FALSE (with `timestamp` and `version` moved, as
 *   SQLAlchemy's `onupdate` and version counter would) and a row in `<prefix>kombu_claims` naming this
 *   store's owner, atomically. kombu's `_get` (`SELECT … FOR UPDATE`, no SKIP LOCKED) waits for the rows
 *   Wakame holds and then skips them, as they are no longer visible.
 * - ack: the row is deleted (kombu never deletes what it consumed: its acks are no-ops).
 * - requeue / release: `visible` TRUE again and `timestamp` NULL, so kombu and Wakame alike take it in its
 *   original place (by id); a requeue marks the envelope redelivered.
 * - lease: a claim whose owner stopped renewing (`sql-owners.ts`) is made visible again, marked
 *   redelivered, by whichever store sweeps first. kombu's own claims have no owner and are never restored.
 *
 * No exchanges live in kombu's tables (kombu keeps bindings in each process's memory): Wakame keeps its
 * topology records in its own `<prefix>records` table and routes in the client, as over Redis.
 *
 * Python publishers send no notifications, so consumers poll (one indexed probe per consumed queue,
 * 5 ms doubling to 200 ms while idle) on both databases; this process's own puts wake its consumers at once.
 *
 * @module
 */
import { hostname } from 'node:os';
import type {
  Claimed,
  StackStateStore,
  StoredMessage,
  StoreFeatures,
  StoreOutcome,
  VirtualStore,
} from '@wakame/core/spi';
import { InvalidArgumentError } from '@wakame/core/spi';
import { EnvelopeError, markRedelivered } from '../kombu-envelope.js';
import type { SqlDialect, SqlExecutor } from './dialect.js';
import { guardedSql } from './errors.js';
import { decodeKombuPayload, encodeKombuPayload } from './kombu-envelope.js';
import { BUMP_VERSION, type KombuSql } from './kombu-sql.js';
import { migrate } from './migrate.js';
import { SqlOwners } from './sql-owners.js';
import { SqlStacks } from './sql-stacks.js';
import { type Epoch, epochFor, SqlTopology } from './sql-topology.js';
import { Poller, type PollerOptions, RevisionProbe, SqlWakeups, unrefInterval } from './wakeups.js';

/** Options of {@link KombuStore}. */
export interface KombuStoreOptions {
  /** Names the tables (database, schema, prefix; no credentials): stores sharing it share in-process state. */
  readonly identity: string;
  /** Where the tables are, for messages (no credentials). */
  readonly where: string;
  /** How long a stopped process's claims are held before they are restored (ms). @defaultValue 30_000 */
  readonly leaseMs?: number;
  /** The poll of kombu's table. @defaultValue 5 ms doubling to 200 ms */
  readonly poll?: PollerOptions;
  /** Problems with no caller (a failed background renewal or sweep, a row that is no kombu envelope). */
  readonly onError?: (error: unknown) => void;
}

/** The store's token for a claimed message. */
interface Receipt {
  readonly id: number;
  readonly queue: string;
  /** The payload as claimed: a requeue writes it back marked redelivered. */
  readonly payload: string;
  settled: boolean;
}

/** kombu's SQL transport has no priorities: its queues are FIFO (by id) for both sides. */
const FEATURES: StoreFeatures = Object.freeze({ priority: false, persistence: true, crossProcess: true });

export class KombuStore implements VirtualStore {
  readonly kind: string;
  readonly identity: string;
  readonly features = FEATURES;
  readonly topology: SqlTopology;
  /** Identifies this store's claims; its row in `<prefix>owners` vouches for them. */
  readonly owner = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  readonly #dialect: SqlDialect;
  readonly #kombu: KombuSql;
  readonly #options: KombuStoreOptions;
  readonly #epoch: Epoch;
  readonly #wakeups = new SqlWakeups();
  readonly #stacks: SqlStacks;
  readonly #owners: SqlOwners;
  readonly #held = new Map<number, Receipt>();
  /** kombu queue ids by name (kombu never deletes a queue row, so they stay valid). */
  readonly #queueIds = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  #poller: Poller | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';

  constructor(dialect: SqlDialect, kombu: KombuSql, options: KombuStoreOptions) {
    this.kind = dialect.kind;
    this.#dialect = dialect;
    this.#kombu = kombu;
    this.#options = options;
    this.identity = options.identity;
    this.#epoch = epochFor(options.identity);
    this.topology = new SqlTopology(dialect, this.#epoch, this.#guard);
    this.#owners = new SqlOwners(dialect, this.owner, this.#leaseMs, this.#guard, this.#report);
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
    // Wakame's own tables (topology records, owners, consumers, stacks), then kombu's and the claims table.
    await this.#guard(migrate(this.#dialect, `wakame:${this.identity}`));
    await this.#guard(this.#dialect.withLock(`kombu:${this.identity}`, (session) => this.#kombu.create(session)));
    await this.#owners.renew();
    const { message, queue } = this.#kombu.tables;
    // Per consumed queue, whether it has a visible message (kombu's `visible` index).
    const probe = new RevisionProbe(
      this.#dialect,
      this.#wakeups,
      this.#epoch,
      `SELECT 1 FROM ${message} m JOIN ${queue} q ON q.id = m.queue_id WHERE q.name = ? AND m.visible = TRUE LIMIT 1`,
    );
    this.#poller = new Poller(() => probe.poll(), this.#report, this.#options.poll);
    this.#poller.start();
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
        // Whatever is still held (claimed, never handed out) goes back untouched.
        for (const receipt of [...this.#held.values()]) await this.settle(receipt, 'release');
        await this.#stacks.close();
        await this.#owners.leave();
      }
    } finally {
      await this.#dialect.close();
    }
  }

  /** kombu's `_new_queue`: the queue's row. */
  async createQueue(name: string): Promise<void> {
    await this.#queueId(name, true);
  }

  /** Like kombu's `_delete` (a purge of every row of the queue, consumed or not); the queue row stays, as kombu keeps it. */
  async deleteQueue(name: string): Promise<number> {
    const id = await this.#queueId(name, false);
    await this.#guard(this.#dialect.query(`DELETE FROM ${this.#dialect.tables.consumers} WHERE queue = ?`, [name]));
    if (id === undefined) return 0;
    const ready = await this.size(name);
    const { message, claims } = this.#kombu.tables;
    await this.#guard(
      this.#dialect.transaction(async (tx) => {
        await tx.query(`DELETE FROM ${claims} WHERE message_id IN (SELECT id FROM ${message} WHERE queue_id = ?)`, [
          id,
        ]);
        await tx.query(`DELETE FROM ${message} WHERE queue_id = ?`, [id]);
      }),
    );
    return ready;
  }

  async put(queue: string, message: StoredMessage): Promise<void> {
    const payload = encodeKombuPayload(message);
    const max = this.#kombu.maxPayloadBytes;
    if (max !== undefined && Buffer.byteLength(payload) > max) {
      throw new InvalidArgumentError(
        `message of ${Buffer.byteLength(payload)} bytes as kombu's JSON envelope: kombu's payload column (TEXT) holds at most ${max}`,
      );
    }
    const id = await this.#queueId(queue, true);
    await this.#guard(this.#dialect.query(this.#kombu.insertMessages(1), [payload, id]));
    this.#wakeups.notify(queue);
    this.#poller?.poke();
  }

  async get(queue: string): Promise<Claimed | undefined> {
    return (await this.getMany(queue, 1))[0];
  }

  /** Claims up to `max` messages in one transaction (see the module comment). */
  async getMany(queue: string, max: number): Promise<Claimed[]> {
    const id = await this.#queueId(queue, false);
    if (id === undefined) return [];
    const rows = await this.#guard(this.#kombu.claim(id, max, this.owner));
    if (rows.length > 0) this.#poller?.poke();
    const claimed: Claimed[] = [];
    for (const row of [...rows].sort((a, b) => Number(a.id) - Number(b.id))) {
      const receipt: Receipt = { id: Number(row.id), queue, payload: String(row.payload), settled: false };
      try {
        claimed.push({ message: decodeKombuPayload(receipt.payload), receipt });
        this.#held.set(receipt.id, receipt);
      } catch (error) {
        // Set aside as kombu's consumers would leave it: invisible, owned by no one, for an operator to look at.
        await this.#guard(
          this.#dialect.query(`DELETE FROM ${this.#kombu.tables.claims} WHERE message_id = ?`, [receipt.id]),
        );
        const why = error instanceof Error ? error.message : String(error);
        this.#report(
          new EnvelopeError(`row ${receipt.id} of queue '${queue}' is not a kombu envelope (${why}): left invisible`),
        );
      }
    }
    return claimed;
  }

  async settle(receipt: unknown, outcome: StoreOutcome): Promise<void> {
    const r = receipt as Receipt;
    if (r.settled) return;
    r.settled = true;
    this.#held.delete(r.id);
    const { message, claims } = this.#kombu.tables;
    await this.#guard(
      this.#dialect.transaction(async (tx) => {
        // Only while this owner still holds it: after a lapsed lease another consumer may have it now.
        const held = await tx.query(`DELETE FROM ${claims} WHERE message_id = ? AND owner = ?`, [r.id, this.owner]);
        if (held.affected === 0) return;
        if (outcome === 'ack') await tx.query(`DELETE FROM ${message} WHERE id = ?`, [r.id]);
        else await this.#makeVisible(tx, r.id, outcome === 'requeue' ? markRedelivered(r.payload) : r.payload);
      }),
    );
    if (outcome !== 'ack') {
      this.#wakeups.notify(r.queue);
      this.#poller?.poke();
    }
  }

  /** Deletes the ready (visible) messages; kombu's `_purge` also deletes consumed and in-flight rows. */
  async purge(queue: string): Promise<number> {
    const id = await this.#queueId(queue, false);
    if (id === undefined) return 0;
    const sql = `DELETE FROM ${this.#kombu.tables.message} WHERE queue_id = ? AND visible = TRUE`;
    return (await this.#guard(this.#dialect.query(sql, [id]))).affected;
  }

  /** Ready (visible) messages; kombu's `_size` also counts every consumed row it never deleted. */
  async size(queue: string): Promise<number> {
    const id = await this.#queueId(queue, false);
    if (id === undefined) return 0;
    const sql = `SELECT COUNT(*) AS n FROM ${this.#kombu.tables.message} WHERE queue_id = ? AND visible = TRUE`;
    const { rows } = await this.#guard(this.#dialect.query(sql, [id]));
    return Number(rows[0]?.n ?? 0);
  }

  watch(listener: (queue: string) => void): () => void {
    return this.#wakeups.listen(listener);
  }

  /** Counted here at once, and in `<prefix>consumers` for other Wakame processes (kombu's consumers are not counted). */
  addConsumer(queue: string): () => void {
    const release = this.#owners.track(queue, this.#wakeups);
    this.#poller?.poke();
    return release;
  }

  async consumerCount(queue: string): Promise<number> {
    return this.#owners.consuming(queue, this.#wakeups);
  }

  // ---------------------------------------------------------------------------------------------

  /** The id of kombu's queue row `name`, made (as kombu's `_get_or_create` does) when `create`. */
  async #queueId(name: string, create: boolean): Promise<number | undefined> {
    const cached = this.#queueIds.get(name);
    if (cached !== undefined) return cached;
    const select = async () => {
      const sql = `SELECT id FROM ${this.#kombu.tables.queue} WHERE name = ?`;
      const { rows } = await this.#guard(this.#dialect.query(sql, [name]));
      return rows[0] === undefined ? undefined : Number(rows[0].id);
    };
    let id = await select();
    if (id === undefined && create) {
      // Insert-or-ignore: kombu's own `_get_or_create` only guards against threads of one process.
      await this.#guard(this.#dialect.query(this.#kombu.insertQueue, [name]));
      id = await select();
    }
    if (id !== undefined) this.#queueIds.set(name, id);
    return id;
  }

  /** Back in its queue at its original place: `timestamp` NULL, as a row kombu never claimed has it. */
  async #makeVisible(tx: SqlExecutor, id: number, payload: string): Promise<void> {
    const m = this.#kombu.tables.message;
    const ts = this.#dialect.kind === 'mysql' ? '`timestamp`' : '"timestamp"';
    await tx.query(`UPDATE ${m} SET visible = TRUE, ${ts} = NULL, payload = ?, ${BUMP_VERSION} WHERE id = ?`, [
      payload,
      id,
    ]);
  }

  async #renewed(): Promise<void> {
    await this.#owners.renew();
    this.#wakeups.all();
  }

  /**
   * Makes visible again, marked redelivered, the messages whose owner's lease lapsed. Each one in a
   * transaction that first deletes its claim row *with that owner*: of two sweepers only one gets it, and a
   * message claimed again meanwhile (a new claim row) is left alone.
   */
  async #restore(): Promise<void> {
    const d = this.#dialect;
    const { message, claims } = this.#kombu.tables;
    const lapsed = `owner NOT IN (SELECT owner FROM ${d.tables.owners} WHERE lease_until >= ${d.nowMs})`;
    const { rows } = await this.#guard(d.query(`SELECT message_id, owner FROM ${claims} WHERE ${lapsed}`));
    let restored = 0;
    for (const row of rows) {
      const id = Number(row.message_id);
      await this.#guard(
        d.transaction(async (tx) => {
          const won = await tx.query(`DELETE FROM ${claims} WHERE message_id = ? AND owner = ?`, [id, row.owner]);
          if (won.affected === 0) return;
          const found = await tx.query(`SELECT payload FROM ${message} WHERE id = ?`, [id]);
          const payload = found.rows[0]?.payload;
          if (payload === undefined) return;
          await this.#makeVisible(tx, id, markRedelivered(String(payload)));
          restored++;
        }),
      );
    }
    // Claims of rows kombu's purge deleted.
    await this.#guard(d.query(`DELETE FROM ${claims} WHERE message_id NOT IN (SELECT id FROM ${message})`));
    // Lapsed owners and their consumer counts go (Wakame's own message table is empty in this layout).
    await this.#owners.restore();
    if (restored > 0) {
      this.#wakeups.all();
      this.#poller?.poke();
    }
  }
}
