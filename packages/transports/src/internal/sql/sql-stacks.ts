/**
 * Stack records in the `<prefix>stacks` table: one row per stack, holding its state document (JSON
 * text; an `UPDATE` replaces it atomically) and its apply lock (holder, a random token, and an expiry
 * on the database clock). A lock is taken by an `UPDATE` that matches only a free or lapsed lock, so
 * exactly one of several contenders wins; one unref'd timer renews every lock a store holds in one
 * statement, and a holder that stops renewing (a crash, a partition) loses it when the lease runs out.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { LockAttempt, LockHolder, StackLock, StackLockOptions, StackStateStore } from '@wakame/core/spi';
import { acquireStackLock, InvalidArgumentError, parseStackDocument, STACK_NAME_PATTERN } from '@wakame/core/spi';
import { placeholders, type SqlDialect } from './dialect.js';

/** Options of {@link SqlStacks}. */
export interface SqlStacksOptions {
  /** How long a lock outlives its holder's last renewal (ms). */
  readonly leaseMs: number;
  /** Where the records live, for messages (no credentials). */
  readonly where: string;
  readonly guard: <T>(promise: Promise<T>) => Promise<T>;
  /** Problems with no caller (a renewal that failed or found the lock gone). */
  readonly onError?: (error: unknown) => void;
}

export class SqlStacks implements StackStateStore {
  /** Held locks: token → stack name. One timer renews them all in one statement. */
  readonly #held = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dialect: SqlDialect,
    private readonly options: SqlStacksOptions,
  ) {}

  describe(stack: string): string {
    return `row '${checked(stack)}' of table ${this.dialect.tables.stacks} on ${this.options.where}`;
  }

  async read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    const { rows } = await this.options.guard(
      this.dialect.query(`SELECT state FROM ${this.dialect.tables.stacks} WHERE name = ?`, [checked(stack)]),
    );
    const state = rows[0]?.state;
    return state === null || state === undefined ? undefined : parseStackDocument(String(state), this.describe(stack));
  }

  async write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void> {
    const sql = this.dialect.upsert(this.dialect.tables.stacks, ['name'], ['name', 'state'], ['state']);
    await this.options.guard(this.dialect.query(sql, [checked(stack), JSON.stringify(state)]));
  }

  async remove(stack: string): Promise<void> {
    const sql = `UPDATE ${this.dialect.tables.stacks} SET state = NULL WHERE name = ?`;
    await this.options.guard(this.dialect.query(sql, [checked(stack)]));
  }

  lock(stack: string, options: StackLockOptions): Promise<StackLock> {
    const name = checked(stack);
    return acquireStackLock(name, options, () => this.#attempt(name, options.holder));
  }

  /** Releases the locks still held through this store (its connection is closing). */
  async close(): Promise<void> {
    for (const token of [...this.#held.keys()]) {
      await this.#free(token).catch((error: unknown) => this.options.onError?.(error));
    }
  }

  async #attempt(name: string, holder: LockHolder): Promise<LockAttempt> {
    const { dialect } = this;
    const t = dialect.tables.stacks;
    const token = randomUUID();
    const { guard, leaseMs } = this.options;
    await guard(dialect.query(dialect.insertIgnore(t, ['name']), [name]));
    const { affected } = await guard(
      dialect.query(
        `UPDATE ${t} SET holder = ?, token = ?, lock_until = ${dialect.nowMs} + ? ` +
          `WHERE name = ? AND (token IS NULL OR lock_until < ${dialect.nowMs})`,
        [JSON.stringify(holder), token, leaseMs, name],
      ),
    );
    if (affected === 0) {
      const { rows } = await guard(dialect.query(`SELECT holder FROM ${t} WHERE name = ?`, [name]));
      return { heldBy: holderOf(rows[0]?.holder) };
    }
    this.#held.set(token, name);
    // A third of the lease: two renewals may fail (a blip) before a lock is lost. Unref'd: a
    // forgotten lock must not keep the process alive; its lease then lapses.
    this.#timer ??= setInterval(() => void this.#renew().catch((e: unknown) => this.options.onError?.(e)), leaseMs / 3);
    this.#timer.unref();
    let released: Promise<void> | undefined;
    const release = (): Promise<void> => {
      released ??= this.#free(token);
      return released;
    };
    return { lock: { release } };
  }

  /** Extends every held lock; reports those found lapsed (taken over after a lease ran out). */
  async #renew(): Promise<void> {
    const tokens = [...this.#held.keys()];
    if (tokens.length === 0) return;
    const { dialect } = this;
    const t = dialect.tables.stacks;
    await this.options.guard(
      dialect.query(
        `UPDATE ${t} SET lock_until = ${dialect.nowMs} + ? WHERE token IN (${placeholders(tokens.length)})`,
        [this.options.leaseMs, ...tokens],
      ),
    );
    const { rows } = await this.options.guard(
      dialect.query(`SELECT token FROM ${t} WHERE token IN (${placeholders(tokens.length)})`, tokens),
    );
    const kept = new Set(rows.map((r) => String(r.token)));
    for (const token of tokens) {
      const name = this.#held.get(token);
      if (kept.has(token) || name === undefined) continue;
      this.#forget(token);
      this.options.onError?.(
        new Error(
          `the apply lock of stack '${name}' lapsed: it was not renewed within its lease and may be held by another`,
        ),
      );
    }
  }

  async #free(token: string): Promise<void> {
    const name = this.#held.get(token);
    this.#forget(token);
    if (name === undefined) return;
    const sql = `UPDATE ${this.dialect.tables.stacks} SET holder = NULL, token = NULL, lock_until = NULL WHERE name = ? AND token = ?`;
    await this.options.guard(this.dialect.query(sql, [name, token]));
  }

  #forget(token: string): void {
    this.#held.delete(token);
    if (this.#held.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function checked(stack: string): string {
  if (!STACK_NAME_PATTERN.test(stack)) {
    throw new InvalidArgumentError(`invalid stack name '${stack}': use letters, digits, '.', '_' and '-'`);
  }
  return stack;
}

/** The holder recorded with a lock; undefined when unreadable (best effort). */
function holderOf(value: unknown): LockHolder | undefined {
  try {
    const h = JSON.parse(String(value)) as Partial<LockHolder>;
    return typeof h.id === 'string' && typeof h.description === 'string' && typeof h.since === 'string'
      ? { id: h.id, description: h.description, since: h.since }
      : undefined;
  } catch {
    return undefined;
  }
}
