/**
 * Claiming and settling one entry, in each layout.
 *
 * Wakame layout: a claim is one multi-op creating the ephemeral claim node and the entry's persistent
 * `delivered` marker. Exactly one session can create the claim node, so exactly one consumer wins;
 * the ensemble deletes it when the session ends (a SIGKILLed consumer's messages come back once its
 * session times out), and the marker that stays makes the next delivery `redelivered`. The entry's data
 * is read in the same round trip (requests of one session are answered in order), and only kept by the
 * winner. Ack deletes claim, marker and entry at once; requeue deletes only the claim, so the entry
 * keeps its name and with it its place at the head of the queue.
 *
 * kombu layout: kazoo's rule, which kombu's consumers follow: whoever deletes the entry has it. A
 * requeue or release writes the entry back under the very same name (names are never reused by the
 * sequence), so it returns to its place. A process that dies holding entries loses them, as kombu does.
 *
 * @module
 */
import type { StoredMessage } from '@wakame/core/spi';
import type zookeeper from 'node-zookeeper-client';
import { markRedelivered } from '../internal/kombu-envelope.js';
import type { BlobChunks, BlobRef } from './blobs.js';
import { decodeEntry, EntryFormatError } from './entry-codec.js';
import { deliveredMarker, type ZkLayout } from './layout.js';
import { CreateMode, failedOp, isZkCode, ZK, type ZkSession } from './session.js';

/** What the store keeps for a claimed entry: its receipt. */
export interface EntryReceipt {
  readonly queue: string;
  readonly entry: string;
  /** The session generation it was claimed in: after an expiry, the claim is gone. */
  readonly generation: number;
  /** The entry's data as read (the kombu layout writes it back on requeue). */
  readonly data: Buffer;
  /** This claim created the `delivered` marker (so a release removes it again). */
  readonly markedNow: boolean;
  /** Where its body's chunks are, when the body did not fit in the entry. */
  readonly blob?: BlobRef;
  settled: boolean;
}

/** The outcome of one claim attempt. */
export type ClaimResult =
  | { readonly kind: 'claimed'; readonly message: StoredMessage; readonly receipt: EntryReceipt }
  /** Claimed by another consumer: `claimPath` is its claim node (to watch for its release). */
  | { readonly kind: 'taken'; readonly claimPath: string | undefined }
  | { readonly kind: 'gone' };

export class EntryClaims {
  constructor(
    private readonly session: ZkSession,
    private readonly layout: ZkLayout,
    private readonly blobs: BlobChunks,
    /** Problems with no caller: an entry set aside because it is not a message of this layout. */
    private readonly report: (error: unknown) => void = () => {},
  ) {}

  /** Tries to claim `entry` of `queue` (read its data unless `read` is false, e.g. to purge). */
  claim(queue: string, entry: string, generation: number, read = true): Promise<ClaimResult> {
    return this.layout.name === 'kombu'
      ? this.#takeKombu(queue, entry, generation, read)
      : this.#claimWakame(queue, entry, generation, read);
  }

  async #claimWakame(queue: string, entry: string, generation: number, read: boolean): Promise<ClaimResult> {
    const entryPath = `${this.layout.queue(queue)}/${entry}`;
    const claimPath = `${this.layout.claims(queue)}/${entry}`;
    const reading = read ? this.session.getData(entryPath).catch(() => undefined) : Promise.resolve(undefined);
    let markedNow = true;
    try {
      await this.session.multi((tx) =>
        tx.create(claimPath, CreateMode.EPHEMERAL).create(deliveredMarker(entryPath), CreateMode.PERSISTENT),
      );
    } catch (error) {
      const at = failedOp(error);
      if (at === 0 && isZkCode(error, ZK.NODE_EXISTS)) return settleRead(reading, { kind: 'taken', claimPath });
      if (at === 0 && isZkCode(error, ZK.NO_NODE)) {
        // The queue's claims parent is missing (declared by an older process): create it, try again.
        await this.session.mkdirp(this.layout.claims(queue));
        return this.#claimWakame(queue, entry, generation, read);
      }
      if (at === 1 && isZkCode(error, ZK.NO_NODE)) return settleRead(reading, { kind: 'gone' });
      if (!(at === 1 && isZkCode(error, ZK.NODE_EXISTS))) throw error;
      // Delivered before (its consumer requeued it, or died): claim it alone, and say so.
      markedNow = false;
      try {
        await this.session.create(claimPath, undefined, CreateMode.EPHEMERAL);
      } catch (again) {
        if (isZkCode(again, ZK.NODE_EXISTS)) return settleRead(reading, { kind: 'taken', claimPath });
        throw again;
      }
    }
    const got = await reading;
    const priority = this.layout.priorityOf(entry) ?? 0;
    if (!got && read) {
      // Cannot happen while we hold the claim (only the holder deletes); drop the claim if it does.
      await this.session.remove(claimPath).catch(() => undefined);
      return { kind: 'gone' };
    }
    const data = got?.data ?? Buffer.alloc(0);
    let decoded: ReturnType<typeof decodeEntry> | undefined;
    try {
      decoded = read ? decodeEntry('wakame', data, priority) : undefined;
    } catch (error) {
      await this.#setAside(queue, entry, data, error, (tx) =>
        tx.remove(claimPath).remove(deliveredMarker(entryPath)).remove(entryPath),
      );
      return { kind: 'gone' };
    }
    let stored = decoded?.message;
    if (stored && decoded?.blob) stored = { ...stored, body: await this.blobs.read(queue, decoded.blob) };
    const message = stored && !markedNow && !stored.redelivered ? { ...stored, redelivered: true } : stored;
    const blob = decoded?.blob;
    const receipt: EntryReceipt = {
      queue,
      entry,
      generation,
      data,
      markedNow,
      ...(blob ? { blob } : {}),
      settled: false,
    };
    return { kind: 'claimed', message: message as StoredMessage, receipt };
  }

  async #takeKombu(queue: string, entry: string, generation: number, read: boolean): Promise<ClaimResult> {
    const entryPath = `${this.layout.queue(queue)}/${entry}`;
    const reading = read ? this.session.getData(entryPath).catch(() => undefined) : Promise.resolve(undefined);
    try {
      await this.session.remove(entryPath);
    } catch (error) {
      // Deleted by another consumer first (kazoo's consumers race the same way).
      if (isZkCode(error, ZK.NO_NODE)) return settleRead(reading, { kind: 'taken', claimPath: undefined });
      // A Wakame-layout entry with a child cannot be a kombu entry; treat it as not ours.
      if (isZkCode(error, ZK.NOT_EMPTY)) return settleRead(reading, { kind: 'gone' });
      throw error;
    }
    const data = (await reading)?.data ?? Buffer.alloc(0);
    const receipt: EntryReceipt = { queue, entry, generation, data, markedNow: true, settled: false };
    let message: StoredMessage | undefined;
    try {
      message = read ? decodeEntry('kombu', data, this.layout.priorityOf(entry) ?? 0).message : undefined;
    } catch (error) {
      await this.#setAside(queue, entry, data, error);
      return { kind: 'gone' };
    }
    return { kind: 'claimed', message: message as StoredMessage, receipt };
  }

  /**
   * Moves an entry that is not a message of this layout (another client's data) to
   * `<meta>/corrupt/<queue>/<entry>`, with `remove`'s removals in the same multi-op, and reports it: it
   * would otherwise come back to every consumer forever. Nothing is deleted that an operator cannot look at.
   */
  async #setAside(
    queue: string,
    entry: string,
    data: Buffer,
    error: unknown,
    remove?: (tx: zookeeper.Transaction) => void,
  ): Promise<void> {
    const dir = this.layout.corrupt(queue);
    await this.session.mkdirp(dir);
    await this.session.multi((tx) => {
      tx.create(`${dir}/${entry}`, data, CreateMode.PERSISTENT);
      remove?.(tx);
    });
    const why = error instanceof Error ? error.message : String(error);
    this.report(new EntryFormatError(`entry ${entry} of queue '${queue}' is not a message (${why}): moved to ${dir}`));
  }

  /** Settles a claim made in the current session `generation` (an older one's claim is gone already). */
  async settle(r: EntryReceipt, outcome: 'ack' | 'requeue' | 'release', generation: number): Promise<void> {
    if (this.layout.name === 'kombu') return this.#settleKombu(r, outcome);
    // The session that held the claim expired: the entry is free again (maybe with another consumer).
    if (r.generation !== generation) return;
    const entryPath = `${this.layout.queue(r.queue)}/${r.entry}`;
    const claimPath = `${this.layout.claims(r.queue)}/${r.entry}`;
    try {
      if (outcome === 'ack') {
        await this.session.multi((tx) => {
          tx.remove(claimPath).remove(deliveredMarker(entryPath)).remove(entryPath);
          if (r.blob) this.blobs.removeInto(tx, r.queue, r.blob);
        });
      } else if (outcome === 'release' && r.markedNow) {
        await this.session.multi((tx) => tx.remove(claimPath).remove(deliveredMarker(entryPath)));
      } else {
        await this.session.remove(claimPath);
      }
    } catch (error) {
      // Purged or deleted with its queue meanwhile: nothing is left to settle.
      if (!isZkCode(error, ZK.NO_NODE)) throw error;
    }
  }

  async #settleKombu(r: EntryReceipt, outcome: 'ack' | 'requeue' | 'release'): Promise<void> {
    if (outcome === 'ack') return;
    const data = outcome === 'requeue' ? Buffer.from(markRedelivered(r.data.toString('utf8')), 'utf8') : r.data;
    try {
      await this.session.create(`${this.layout.queue(r.queue)}/${r.entry}`, data, CreateMode.PERSISTENT);
    } catch (error) {
      // The queue was deleted meanwhile: the message goes with it, as on RabbitMQ.
      if (!isZkCode(error, ZK.NO_NODE)) throw error;
    }
  }
}

/** `result`, once the concurrent read has finished (so no answer arrives for a forgotten request). */
async function settleRead(reading: Promise<unknown>, result: ClaimResult): Promise<ClaimResult> {
  await reading;
  return result;
}
