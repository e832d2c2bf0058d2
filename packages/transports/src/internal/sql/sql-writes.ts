/**
 * Turns the publishes, acks, requeues and releases of one event-loop turn into a few statements: one
 * multi-row `INSERT` per 500 messages, one `DELETE … WHERE seq IN (…)` for the acks, one `UPDATE` for
 * the requeues and one for the releases. A consumer with prefetch acks many messages per turn and a
 * producer publishes many: a statement per message would cap throughput at one round trip each.
 *
 * Settles only touch rows this owner still holds (`lease_owner = owner`): a message whose lease lapsed
 * and that another process claimed since is not deleted or released by a late ack here.
 *
 * @module
 */
import type { StoredMessage } from '@wakame/core/spi';
import { insertInto, placeholders, type SqlDialect, type SqlExecutor } from './dialect.js';

/** Rows per INSERT and ids per IN list: well inside every dialect's parameter limit. */
export const SQL_CHUNK = 500;

const PUT_COLUMNS = [
  'queue',
  'msg_id',
  'priority',
  'wanted_priority',
  'body',
  'body_size',
  'properties',
  'exchange',
  'routing_key',
  'expires_at',
  'redelivered',
];

interface Batch {
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

type SettleKind = 'ack' | 'requeue' | 'release';

export class SqlWrites {
  #puts: { rows: unknown[][]; queues: Set<string>; batch: Batch } | undefined;
  readonly #settles = new Map<SettleKind, { seqs: number[]; queues: Set<string>; batch: Batch }>();
  #scheduled = false;
  #inflight = new Set<Promise<void>>();

  constructor(
    private readonly dialect: SqlDialect,
    private readonly owner: string,
    /** Queues that received ready messages (this process's consumers should look). */
    private readonly wrote: (queues: Iterable<string>) => void,
    /** Maps a driver failure to a typed error. */
    private readonly guard: <T>(promise: Promise<T>) => Promise<T>,
  ) {}

  /** Stores `message` at the back of `queue`; resolves once the row is committed. */
  put(queue: string, message: StoredMessage): Promise<void> {
    this.#puts ??= { rows: [], queues: new Set(), batch: batch() };
    this.#puts.rows.push(putRow(queue, message));
    this.#puts.queues.add(queue);
    this.#schedule();
    return this.#puts.batch.done;
  }

  /**
   * Writes `message` with the application's transaction `tx`, at once and outside the batches (a
   * batch's statement runs on the store's own connections, and commits with none of the caller's
   * work). The notification rides in the same statement: PostgreSQL delivers it only when the
   * caller commits, and never after a rollback. Nobody here is woken: the row is not visible yet.
   */
  async putIn(tx: SqlExecutor, queue: string, message: StoredMessage): Promise<void> {
    const m = this.dialect.tables.messages;
    await this.guard(tx.query(this.dialect.notifying(insertInto(m, PUT_COLUMNS)), putRow(queue, message)));
  }

  /** Deletes (`ack`) or frees (`requeue` marks it redelivered, `release` does not) a held message. */
  settle(kind: SettleKind, seq: number, queue: string): Promise<void> {
    let pending = this.#settles.get(kind);
    if (!pending) {
      pending = { seqs: [], queues: new Set(), batch: batch() };
      this.#settles.set(kind, pending);
    }
    pending.seqs.push(seq);
    pending.queues.add(queue);
    this.#schedule();
    return pending.batch.done;
  }

  /** Resolves once everything queued so far is written. */
  async flush(): Promise<void> {
    if (this.#scheduled) await this.#run();
    await Promise.allSettled([...this.#inflight]);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: the whole turn's publishes and acks join the batch.
    setImmediate(() => void this.#run());
  }

  #run(): Promise<void> {
    if (!this.#scheduled) return Promise.resolve();
    this.#scheduled = false;
    const puts = this.#puts;
    this.#puts = undefined;
    const settles = [...this.#settles];
    this.#settles.clear();
    const work: Promise<void>[] = [];
    if (puts) work.push(this.#track(puts.batch, this.#insert(puts.rows), puts.queues));
    for (const [kind, s] of settles) {
      work.push(this.#track(s.batch, this.#settle(kind, s.seqs), kind === 'ack' ? undefined : s.queues));
    }
    return Promise.all(work).then(() => undefined);
  }

  #track(b: Batch, write: Promise<void>, queues: Set<string> | undefined): Promise<void> {
    const done = write.then(
      () => {
        if (queues) this.wrote(queues);
        b.resolve();
      },
      (error: unknown) => b.reject(error),
    );
    this.#inflight.add(done);
    void done.finally(() => this.#inflight.delete(done));
    return done;
  }

  async #insert(rows: unknown[][]): Promise<void> {
    const { dialect } = this;
    for (let i = 0; i < rows.length; i += SQL_CHUNK) {
      const chunk = rows.slice(i, i + SQL_CHUNK);
      const values = chunk.map(() => `(${placeholders(PUT_COLUMNS.length)})`).join(', ');
      const sql = `INSERT INTO ${dialect.tables.messages} (${PUT_COLUMNS.join(', ')}) VALUES ${values}`;
      await this.guard(dialect.query(dialect.notifying(sql), chunk.flat()));
    }
  }

  async #settle(kind: SettleKind, seqs: number[]): Promise<void> {
    const { dialect } = this;
    const m = dialect.tables.messages;
    for (let i = 0; i < seqs.length; i += SQL_CHUNK) {
      const chunk = seqs.slice(i, i + SQL_CHUNK);
      // A settle lost in a database crash is a redelivery: its commit need not wait for the disk.
      const relaxed = dialect.relaxedCommit === undefined ? '' : ` AND ${dialect.relaxedCommit}`;
      const where = `WHERE seq IN (${placeholders(chunk.length)}) AND lease_owner = ?${relaxed}`;
      const params = [...chunk, this.owner];
      if (kind === 'ack') {
        await this.guard(dialect.query(`DELETE FROM ${m} ${where}`, params));
      } else {
        const mark = kind === 'requeue' ? ', redelivered = TRUE' : '';
        await this.guard(
          dialect.query(dialect.notifying(`UPDATE ${m} SET lease_owner = NULL${mark} ${where}`), params),
        );
      }
    }
  }
}

/** The values of {@link PUT_COLUMNS} for `message`. */
function putRow(queue: string, message: StoredMessage): unknown[] {
  return [
    queue,
    message.id,
    message.priority,
    message.properties.priority ?? null,
    message.body,
    message.body.length,
    JSON.stringify(message.properties),
    message.exchange,
    message.routingKey,
    message.expiresAt ?? null,
    message.redelivered,
  ];
}

function batch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits (its callers went away) must not become an unhandled rejection.
  done.catch(() => undefined);
  return { done, resolve, reject };
}
