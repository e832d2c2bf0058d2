/**
 * Claims of the file broker (format 2). A consumer claims a batch file by renaming it into the
 * queue's `claims/` directory as `<name>~<owner>` (rename is atomic: exactly one process wins). When
 * it needs fewer records than the file holds, it writes the rest back under the same key with their
 * own range (see `batch-file.ts`), then truncates its claim to the records it keeps: the window a
 * claim takes is never more than the consumer asked for, so prefetch holds across processes.
 *
 * Settling: acks of a claimed file are appended, once per event-loop turn, to `<name>.acks` beside
 * it; the claim and its log are deleted when every record is settled. A requeued or released record
 * is written back (one file per run of neighbouring records) under its key and index, so it returns to
 * its place in the queue. A claim whose owner's lease ran out and whose process is gone is restored
 * the same way, less what its ack log says was acked.
 *
 * A crash between writing records back and recording that (splitting a claim, requeueing, restoring)
 * can deliver those records twice, never lose them: written-back files have deterministic names, so
 * a rerun replaces a copy still waiting instead of adding one.
 *
 * @module
 */
import { appendFile, open, readdir, readFile, rename, rm, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BatchName,
  type BatchRecord,
  batchName,
  encodeBatch,
  encodeRecord,
  MalformedBatchError,
  offsetOf,
  parseBatchName,
  readAt,
  readBatch,
  redeliveredHeader,
} from './batch-file.js';
import { ownerOfTemporary, placeBatch } from './batch-writer.js';

/** A batch file this process claimed, with the records it kept. */
export interface ClaimedFile {
  readonly queue: string;
  readonly path: string;
  readonly name: BatchName;
  readonly records: readonly BatchRecord[];
  readonly settled: boolean[];
  open: number;
  /** Indices acked this turn, not yet in the ack log. */
  unlogged: number[];
  /** Records to write back at the end of this turn (requeued: marked redelivered). */
  returning: { index: number; redelivered: boolean }[];
  /** The end of this turn's file work, once something was settled in it. */
  flush: Promise<void> | undefined;
  /** The end of the file work of earlier turns: one turn's work starts after the last one's. */
  tail: Promise<void> | undefined;
}

/** The store's token for one claimed record. */
export interface Receipt {
  readonly file: ClaimedFile;
  readonly index: number;
  settled: boolean;
}

export interface ClaimsOptions {
  readonly owner: string;
  readonly fsync: boolean;
  readonly queueDir: (queue: string) => string;
  /** A record went back to a queue (or a claim was split): wake its consumers. */
  readonly returned: (queue: string) => void;
  /** An unreadable file, moved aside to `corrupt/`. */
  readonly corrupt: (path: string, error: unknown) => Promise<void>;
}

const ACKS = '.acks';
/** Marks a claim taken over by a restore (`<name>~<owner>+r`): see {@link Claims.restore}. */
const RESTORING = '+r';

export class Claims {
  constructor(private readonly options: ClaimsOptions) {}

  /**
   * Claims `bucket/name` of `queue`, keeping at most `take` records. Undefined when another consumer
   * won it, or it was unreadable (moved aside).
   */
  async claim(
    queue: string,
    bucket: string,
    name: string,
    take: number,
    maxBodyBytes?: number,
  ): Promise<ClaimedFile | undefined> {
    const dir = this.options.queueDir(queue);
    const parsed = parseBatchName(name);
    const path = join(dir, 'claims', `${name}~${this.options.owner}`);
    try {
      await rename(join(dir, 'batches', bucket, name), path);
    } catch {
      return undefined; // another consumer won it, or the queue is gone
    }
    let records: BatchRecord[];
    try {
      if (!parsed) throw new MalformedBatchError(`not a batch file name: ${name}`);
      const handle = await open(path, 'r');
      try {
        const { size } = await handle.stat();
        records = await readBatch(handle, size, maxBodyBytes);
        if (records.length > take) {
          // The rest goes back first, then the claim shrinks: a crash between the two repeats records, never loses one.
          const from = offsetOf(records, take);
          const rest = await readAt(handle, from, size - from);
          const restName = batchName(parsed.key, parsed.first + take, records.length - take);
          await placeBatch(join(dir, 'batches'), restName, encodeBatch([[rest]]), this.options);
          await truncate(path, from);
          records = records.slice(0, take);
          this.options.returned(queue);
        }
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (!(error instanceof MalformedBatchError || error instanceof SyntaxError)) throw error;
      await this.options.corrupt(path, error);
      return undefined;
    }
    const kept = { key: parsed.key, first: parsed.first, count: records.length };
    return {
      queue,
      path,
      name: kept,
      records,
      settled: records.map(() => false),
      open: records.length,
      unlogged: [],
      returning: [],
      flush: undefined,
      tail: undefined,
    };
  }

  /** Settles one record; the file work of one turn is shared by the records settled in it. */
  settle(receipt: Receipt, outcome: 'ack' | 'requeue' | 'release'): Promise<void> {
    const { file, index } = receipt;
    if (receipt.settled || file.settled[index]) return Promise.resolve();
    receipt.settled = true;
    file.settled[index] = true;
    file.open--;
    if (outcome === 'ack') file.unlogged.push(index);
    else file.returning.push({ index, redelivered: outcome === 'requeue' });
    if (!file.flush) {
      const previous = file.tail;
      file.flush = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => previous)
        .then(() => this.#flush(file));
      file.tail = file.flush.catch(() => undefined);
    }
    return file.flush;
  }

  async #flush(file: ClaimedFile): Promise<void> {
    try {
      await this.#settleTurn(file);
    } catch (error) {
      // The queue was deleted meanwhile: its claims went with it, as on RabbitMQ.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  async #settleTurn(file: ClaimedFile): Promise<void> {
    file.flush = undefined;
    const acked = file.unlogged;
    const returning = file.returning;
    file.unlogged = [];
    file.returning = [];
    if (returning.length > 0) await this.#writeBack(file, returning);
    if (file.open === 0) {
      // Nothing of the claim is left: the claim and its log go, and no log line is needed.
      await unlink(file.path).catch(ignoreMissing);
      await rm(`${claimBase(file.path)}${ACKS}`, { force: true });
      return;
    }
    const logged = [...acked, ...returning.map((r) => r.index)];
    if (logged.length > 0)
      await appendFile(`${claimBase(file.path)}${ACKS}`, `${logged.map((i) => file.name.first + i).join('\n')}\n`);
  }

  /** Writes records of a claimed file back to its queue, one file per run of neighbouring indices. */
  async #writeBack(file: ClaimedFile, returning: readonly { index: number; redelivered: boolean }[]): Promise<void> {
    const sorted = [...returning].sort((a, b) => a.index - b.index);
    const batches = join(this.options.queueDir(file.queue), 'batches');
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (
        j < sorted.length &&
        (sorted[j] as { index: number }).index === (sorted[j - 1] as { index: number }).index + 1
      )
        j++;
      const run = sorted.slice(i, j);
      const records: Buffer[][] = [];
      for (const { index, redelivered } of run) {
        const record = file.records[index] as BatchRecord;
        const body = record.withheld ? await readBodyAt(file.path, record) : record.body;
        records.push(encodeRecord(redelivered ? redeliveredHeader(record) : record.rawHeader, body));
      }
      const first = file.name.first + (run[0] as { index: number }).index;
      await placeBatch(batches, batchName(file.name.key, first, run.length), encodeBatch(records), this.options);
      i = j;
    }
    this.options.returned(file.queue);
  }

  /** Places a batch file in `queue` (see {@link placeBatch}). */
  async place(queue: string, name: string, data: Buffer): Promise<void> {
    await placeBatch(join(this.options.queueDir(queue), 'batches'), name, data, this.options);
    this.options.returned(queue);
  }

  /** Forgets a claim whose records were all placed elsewhere. */
  async drop(file: ClaimedFile): Promise<void> {
    file.settled.fill(true);
    file.open = 0;
    await unlink(file.path).catch(ignoreMissing);
  }

  /** The body of a claimed record that the claim left unread. */
  readBody(receipt: Receipt): Promise<Buffer> {
    const record = receipt.file.records[receipt.index] as BatchRecord;
    return record.withheld ? readBodyAt(receipt.file.path, record) : Promise.resolve(record.body);
  }

  /**
   * Restores the claims on `queue` of owners not in `live` (and not this store): every record their
   * ack logs do not name goes back, marked redelivered. @returns how many records came back.
   */
  async restore(queue: string, live: ReadonlySet<string>): Promise<number> {
    const dir = join(this.options.queueDir(queue), 'claims');
    let restored = 0;
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      const tilde = entry.lastIndexOf('~');
      if (tilde < 0 || entry.endsWith(ACKS)) continue;
      const owner = ownerOf(entry.slice(tilde + 1));
      if (owner === this.options.owner || live.has(owner)) continue;
      const name = entry.slice(0, tilde);
      // Take the claim over first: exactly one restorer wins it, and a crash of the winner restores it again. The
      // taken-over claim gets a name of its own: the copy written back keeps the claim's name, so this process may
      // claim that copy (as `<name>~<owner>`) before the restore is done, and removing the taken-over file must
      // not remove that claim with it.
      const mine = join(dir, `${name}~${this.options.owner}${RESTORING}`);
      try {
        await rename(join(dir, entry), mine);
      } catch {
        continue; // restored by another process first
      }
      restored += await this.#restoreClaim(queue, name, mine);
    }
    if (restored > 0) this.options.returned(queue);
    await this.#removeTemporaries(queue, live);
    return restored;
  }

  /** Temporary files (`.tmp-<owner>-<n>`) that writers now gone left half written. */
  async #removeTemporaries(queue: string, live: ReadonlySet<string>): Promise<void> {
    const batches = join(this.options.queueDir(queue), 'batches');
    for (const entry of await readdir(batches).catch(() => [] as string[])) {
      const owner = ownerOfTemporary(entry);
      if (owner !== undefined && owner !== this.options.owner && !live.has(owner))
        await rm(join(batches, entry), { force: true });
    }
  }

  async #restoreClaim(queue: string, name: string, path: string): Promise<number> {
    const parsed = parseBatchName(name);
    const log = join(this.options.queueDir(queue), 'claims', `${name}${ACKS}`);
    let records: BatchRecord[];
    try {
      if (!parsed) throw new MalformedBatchError(`not a batch file name: ${name}`);
      records = await readClaim(path);
    } catch (error) {
      if (!(error instanceof MalformedBatchError || error instanceof SyntaxError)) throw error;
      await this.options.corrupt(path, error);
      await rm(log, { force: true });
      return 0;
    }
    const acked = new Set(
      (await readFile(log, 'utf8').catch(() => ''))
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => Number(line) - parsed.first),
    );
    const file: ClaimedFile = {
      queue,
      path,
      name: { ...parsed, count: records.length },
      records,
      settled: records.map((_, i) => acked.has(i)),
      open: 0,
      unlogged: [],
      returning: [],
      flush: undefined,
      tail: undefined,
    };
    const back = records.flatMap((_, i) => (acked.has(i) ? [] : [{ index: i, redelivered: true }]));
    if (back.length > 0) await this.#writeBack(file, back);
    await rm(log, { force: true });
    await unlink(path).catch(ignoreMissing);
    return back.length;
  }
}

/** The owner a claim's suffix names: a restore's takeover (`<owner>+r`) belongs to its restorer. */
function ownerOf(suffix: string): string {
  return suffix.endsWith(RESTORING) ? suffix.slice(0, -RESTORING.length) : suffix;
}

/** A claim's path less its owner. */
function claimBase(path: string): string {
  return path.slice(0, path.lastIndexOf('~'));
}

async function readClaim(path: string): Promise<BatchRecord[]> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    // Bodies are written back as they are: none over 64 MiB is read into memory here.
    return await readBatch(handle, size, 64 * 1024 * 1024);
  } finally {
    await handle.close();
  }
}

async function readBodyAt(path: string, record: BatchRecord): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await readAt(handle, record.bodyAt, record.bodyBytes);
  } finally {
    await handle.close();
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
