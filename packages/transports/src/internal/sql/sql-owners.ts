/**
 * Owners: the live store instances, each with one row in `<prefix>owners` that it renews. A claim
 * names its owner; a claim whose owner's row lapsed (the process died or froze for a whole lease) is
 * returned to its queue by whichever store sweeps first. Renewing costs one statement however many
 * messages the owner holds, and a message is never restored while its owner still renews.
 *
 * Consumer counts live here too (`<prefix>consumers`, per queue and owner), so that other processes
 * see them; a lapsed owner's consumers stop counting.
 *
 * @module
 */
import type { SqlDialect } from './dialect.js';
import type { SqlWakeups } from './wakeups.js';

export class SqlOwners {
  #consumerWrites: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dialect: SqlDialect,
    /** This store instance's owner name. */
    private readonly owner: string,
    private readonly leaseMs: number,
    private readonly guard: <T>(promise: Promise<T>) => Promise<T>,
    private readonly report: (error: unknown) => void,
  ) {}

  /** This owner's row: its claims stay its own for another lease. */
  async renew(): Promise<void> {
    const d = this.dialect;
    const sql = d.upsert(
      d.tables.owners,
      ['owner'],
      ['owner', 'lease_until'],
      ['lease_until'],
      ['?', `${d.nowMs} + ?`],
    );
    await this.guard(d.query(sql, [this.owner, this.leaseMs]));
  }

  /**
   * Returns to their queues (flagged redelivered) the claims of owners whose lease lapsed, and forgets
   * those owners. @returns the queues that got messages back.
   */
  async restore(): Promise<string[]> {
    const d = this.dialect;
    const t = d.tables;
    const lapsed = `lease_owner IS NOT NULL AND lease_owner NOT IN (SELECT owner FROM ${t.owners} WHERE lease_until >= ${d.nowMs})`;
    const { rows } = await this.guard(d.query(`SELECT DISTINCT queue FROM ${t.messages} WHERE ${lapsed}`));
    if (rows.length > 0) {
      const restore = `UPDATE ${t.messages} SET lease_owner = NULL, redelivered = TRUE WHERE ${lapsed}`;
      await this.guard(d.query(d.notifying(restore)));
    }
    // Rows are kept a lease past their expiry, so a process that was only paused finds its claims gone, not its row.
    await this.guard(d.query(`DELETE FROM ${t.owners} WHERE lease_until < ${d.nowMs} - ?`, [this.leaseMs]));
    await this.guard(d.query(`DELETE FROM ${t.consumers} WHERE owner NOT IN (SELECT owner FROM ${t.owners})`));
    return rows.map((r) => String(r.queue));
  }

  /**
   * Records that this owner has `count` consumers of `queue`. Writes are chained, so that a consumer
   * added and released at once cannot reach the table in the other order.
   */
  consumers(queue: string, count: () => number): void {
    const d = this.dialect;
    const t = d.tables;
    this.#consumerWrites = this.#consumerWrites
      .then(() => {
        const n = count();
        if (n === 0) return d.query(`DELETE FROM ${t.consumers} WHERE queue = ? AND owner = ?`, [queue, this.owner]);
        const sql = d.upsert(t.consumers, ['queue', 'owner'], ['queue', 'owner', 'count'], ['count']);
        return d.query(sql, [queue, this.owner, n]);
      })
      .catch(this.report);
  }

  /**
   * A consumer of `queue` starts in this process: counted at once in `wakeups` (so this process's own
   * checks see it) and in `<prefix>consumers` for other processes. The returned function ends it
   * (idempotent).
   */
  track(queue: string, wakeups: SqlWakeups): () => void {
    const release = wakeups.consume(queue);
    const count = () => wakeups.consumers(queue);
    this.consumers(queue, count);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      this.consumers(queue, count);
    };
  }

  /** Consumers of `queue`: this process's (in `wakeups`) and other live owners'. */
  async consuming(queue: string, wakeups: SqlWakeups): Promise<number> {
    return (await this.othersConsuming(queue)) + wakeups.consumers(queue);
  }

  /** Consumers of `queue` that other live owners have. */
  async othersConsuming(queue: string): Promise<number> {
    const t = this.dialect.tables;
    const sql =
      `SELECT COALESCE(SUM(c.count), 0) AS n FROM ${t.consumers} c JOIN ${t.owners} o ON o.owner = c.owner ` +
      `WHERE c.queue = ? AND c.owner <> ? AND o.lease_until >= ${this.dialect.nowMs}`;
    const { rows } = await this.guard(this.dialect.query(sql, [queue, this.owner]));
    return Number(rows[0]?.n ?? 0);
  }

  /** This owner is going away: its rows go (its claims must have been settled first). */
  async leave(): Promise<void> {
    await this.#consumerWrites;
    const t = this.dialect.tables;
    await this.dialect.query(`DELETE FROM ${t.consumers} WHERE owner = ?`, [this.owner]).catch(this.report);
    await this.dialect.query(`DELETE FROM ${t.owners} WHERE owner = ?`, [this.owner]).catch(this.report);
  }
}
