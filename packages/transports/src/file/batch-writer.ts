/**
 * Writing the file broker's batch files: group commit (every message put to one queue and
 * priority in one event-loop turn goes into one file, one write, and with fsync one fsync of the
 * file and one of its directory), and the atomic placing of a file (written under a temporary name
 * in the queue's `batches/` directory, renamed into its bucket: nobody reads half a file, and the
 * temporary file's creation is what wakes the queue's watchers).
 *
 * @module
 */
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredMessage } from '@wakame/core/spi';
import {
  batchKey,
  batchName,
  bucketOf,
  encodeBatch,
  encodeRecord,
  MAX_BATCH_RECORDS,
  recordHeader,
} from './batch-file.js';
import { syncDir } from './process-files.js';

/** A batch is written at once when it reaches this many bytes, rather than at the end of the turn. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Attempts at renaming into a bucket that a consumer removes (empty) at the same time. */
const PLACE_ATTEMPTS = 8;

/** How a temporary batch file's name starts: `.tmp-<owner>-<n>` (see {@link ownerOfTemporary}). */
const TEMPORARY = '.tmp-';

let temporaries = 0;
/** Per process, not per store: two connections of one process must never name two batches alike. */
let batches = 0;

/**
 * Places `data` as `batchesDir/<bucket of key>/<name>`. @returns false when the queue's directory
 * is gone (the queue was deleted meanwhile: the records go with it, as on RabbitMQ).
 */
export async function placeBatch(
  batchesDir: string,
  name: string,
  data: Buffer,
  options: { readonly fsync: boolean; readonly owner: string },
): Promise<boolean> {
  const tmp = join(batchesDir, `${TEMPORARY}${options.owner}-${++temporaries}`);
  try {
    if (options.fsync) {
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else await writeFile(tmp, data);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const bucket = join(batchesDir, bucketOf(name));
  for (let attempt = 1; ; attempt++) {
    try {
      await rename(tmp, join(bucket, name));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === PLACE_ATTEMPTS) {
        await rm(tmp, { force: true });
        throw error;
      }
    }
    // The bucket does not exist (yet, or any more: a consumer removes empty buckets).
    try {
      await mkdir(bucket);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        await rm(tmp, { force: true });
        return false; // batches/ itself is gone
      }
      if (code !== 'EEXIST') throw error;
    }
  }
  if (options.fsync) await syncDir(bucket);
  return true;
}

/** The owner that wrote a temporary batch file, or undefined when `name` is not one. */
export function ownerOfTemporary(name: string): string | undefined {
  return name.startsWith(TEMPORARY) ? name.slice(TEMPORARY.length, name.lastIndexOf('-')) : undefined;
}

interface Pending {
  readonly records: Buffer[][];
  bytes: number;
  readonly waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

/** Group commit of puts; see the module description. */
export class BatchWriter {
  readonly #pending = new Map<string, Pending>();
  readonly #inFlight = new Set<Promise<void>>();
  #scheduled = false;

  constructor(
    private readonly options: {
      readonly fsync: boolean;
      readonly owner: string;
      readonly batchesDir: (queue: string) => string;
      /** After a batch is in place (or dropped with its queue). */
      readonly written: (queue: string) => void;
    },
  ) {}

  put(queue: string, message: StoredMessage): Promise<void> {
    const slot = `${message.priority}\u0000${queue}`;
    let pending = this.#pending.get(slot);
    if (!pending) {
      pending = { records: [], bytes: 0, waiters: [] };
      this.#pending.set(slot, pending);
    }
    const record = encodeRecord(recordHeader(message), message.body);
    pending.records.push(record);
    pending.bytes += (record[1] as Buffer).length + message.body.length;
    const done = new Promise<void>((resolve, reject) => pending.waiters.push({ resolve, reject }));
    if (pending.bytes >= MAX_BATCH_BYTES || pending.records.length >= MAX_BATCH_RECORDS) {
      this.#pending.delete(slot);
      this.#write(queue, message.priority, pending);
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      // The end of this turn: every put made until then shares the file.
      setImmediate(() => this.#flush());
    }
    return done;
  }

  /** Resolves once every batch started so far is written. */
  async drain(): Promise<void> {
    this.#flush();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #flush(): void {
    this.#scheduled = false;
    const due = [...this.#pending];
    this.#pending.clear();
    for (const [slot, pending] of due) {
      const separator = slot.indexOf('\u0000');
      this.#write(slot.slice(separator + 1), Number(slot.slice(0, separator)), pending);
    }
  }

  #write(queue: string, priority: number, pending: Pending): void {
    const key = batchKey(priority, Date.now(), process.pid, ++batches);
    const name = batchName(key, 0, pending.records.length);
    const written = placeBatch(this.options.batchesDir(queue), name, encodeBatch(pending.records), this.options).then(
      () => {
        this.options.written(queue);
        for (const w of pending.waiters) w.resolve();
      },
      (error: unknown) => {
        for (const w of pending.waiters) w.reject(error);
      },
    );
    this.#inFlight.add(written);
    void written.finally(() => this.#inFlight.delete(written));
  }
}
