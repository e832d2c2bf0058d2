/**
 * Queue migration in place (`apply --migrate` of a `maxPriority` change): the queue's record is replaced,
 * then every ready entry whose priority the new settings change is moved to a new name, each in one
 * multi-op that creates the new entry and removes the old one. The same multi-op creates and removes the
 * entry's claim node, so it fails (and the entry stays as it is) when another consumer holds the entry:
 * claimed messages keep the priority they had, as the SPI allows. Nothing is copied before the old entry
 * goes, so nothing is doubled; running it again moves what an interrupted run left.
 *
 * A moved entry goes after the entries already at its new priority (ZooKeeper gives it a new sequence);
 * one that was delivered before (its `delivered` marker) carries that in its data instead.
 *
 * kombu's layout orders by each message's own priority whatever the queue says: only the record changes.
 *
 * @module
 */
import type { QueueSpec } from '@wakame/core/spi';
import { decodeEntry, encodeEntry } from './entry-codec.js';
import { deliveredMarker, type ZkLayout } from './layout.js';
import { CreateMode, isZkCode, ZK, type ZkSession } from './session.js';

/** Entries re-filed at once (each is one multi-op; the batch bounds what is in flight). */
const IN_FLIGHT = 200;

/** Moves the ready entries of `to.name` whose priority under `to` differs from their name's; returns how many. */
export async function refileEntries(session: ZkSession, layout: ZkLayout, to: QueueSpec): Promise<number> {
  if (layout.name === 'kombu') return 0;
  const queuePath = layout.queue(to.name);
  let children: string[];
  try {
    children = await session.getChildren(queuePath);
  } catch (error) {
    if (isZkCode(error, ZK.NO_NODE)) return 0;
    throw error;
  }
  const entries = children.filter((c) => layout.priorityOf(c) !== undefined);
  await session.mkdirp(layout.claims(to.name)); // the claim check below needs the parent
  let moved = 0;
  for (let i = 0; i < entries.length; i += IN_FLIGHT) {
    const batch = entries.slice(i, i + IN_FLIGHT);
    const results = await Promise.all(batch.map((entry) => refileOne(session, layout, to, entry)));
    moved += results.filter(Boolean).length;
  }
  return moved;
}

/** The queue-effective priority of a message's own priority under `spec` (0 without priorities). */
function effective(spec: QueueSpec, own: number | undefined): number {
  return spec.maxPriority === undefined ? 0 : Math.min(Math.max(own ?? 0, 0), spec.maxPriority);
}

async function refileOne(session: ZkSession, layout: ZkLayout, to: QueueSpec, entry: string): Promise<boolean> {
  const queuePath = layout.queue(to.name);
  const path = `${queuePath}/${entry}`;
  let got: Awaited<ReturnType<ZkSession['getData']>>;
  try {
    got = await session.getData(path);
  } catch (error) {
    if (isZkCode(error, ZK.NO_NODE)) return false; // acked meanwhile
    throw error;
  }
  const was = layout.priorityOf(entry) ?? 0;
  let decoded: ReturnType<typeof decodeEntry>;
  try {
    decoded = decodeEntry('wakame', got.data, was);
  } catch {
    return false; // not a message: the next claim sets it aside
  }
  const now = effective(to, decoded.message.properties.priority);
  if (now === was) return false;
  const delivered = got.stat.numChildren > 0;
  const data = delivered ? encodeEntry('wakame', { ...decoded.message, redelivered: true }, decoded.blob) : got.data;
  const claim = `${layout.claims(to.name)}/${entry}`;
  try {
    await session.multi((tx) => {
      // Held by no one: the claim node can be created (and goes again in the same step).
      tx.create(claim, CreateMode.EPHEMERAL).create(
        `${queuePath}/${layout.entryPrefix(now)}`,
        data,
        CreateMode.PERSISTENT_SEQUENTIAL,
      );
      if (delivered) tx.remove(deliveredMarker(path));
      tx.remove(path).remove(claim);
    });
    return true;
  } catch (error) {
    // Claimed, acked or moved by someone else meanwhile: it stays as it is.
    if (isZkCode(error, ZK.NODE_EXISTS) || isZkCode(error, ZK.NO_NODE) || isZkCode(error, ZK.NOT_EMPTY)) return false;
    throw error;
  }
}
