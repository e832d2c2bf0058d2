/**
 * Bodies too large for one znode (ZooKeeper bounds a znode's data by `jute.maxbuffer`, about 1 MiB),
 * in the Wakame layout: written as numbered chunks under `<root>/blobs/<queue>/<key>/` *before* the
 * entry that names them, so a consumer that sees the entry finds the whole body; removed in the same
 * multi-op as the entry on ack (a multi-op's removals are small, whatever the chunks weigh).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type zookeeper from 'node-zookeeper-client';
import type { ZkLayout } from './layout.js';
import { CreateMode, type ZkSession } from './session.js';

/** Where a body's chunks are: the entry header's `b` field. */
export interface BlobRef {
  readonly key: string;
  /** Number of chunks. */
  readonly n: number;
}

export class BlobChunks {
  constructor(
    private readonly session: ZkSession,
    private readonly layout: ZkLayout,
    /** Bytes per chunk: the store's bound on a znode's data. */
    private readonly chunkBytes: number,
  ) {}

  /** Writes `body` as chunks of `queue` and returns their reference. */
  async write(queue: string, body: Buffer): Promise<BlobRef> {
    const key = randomUUID();
    const dir = `${this.layout.blobs(queue)}/${key}`;
    const n = Math.ceil(body.length / this.chunkBytes);
    await this.session.mkdirp(dir);
    try {
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          this.session.create(
            `${dir}/${i}`,
            body.subarray(i * this.chunkBytes, (i + 1) * this.chunkBytes),
            CreateMode.PERSISTENT,
          ),
        ),
      );
    } catch (error) {
      await this.remove(queue, { key, n }).catch(() => undefined);
      throw error;
    }
    return { key, n };
  }

  /** The body `ref` names, chunks in order. */
  async read(queue: string, ref: BlobRef): Promise<Buffer> {
    const dir = `${this.layout.blobs(queue)}/${ref.key}`;
    const parts = await Promise.all(Array.from({ length: ref.n }, (_, i) => this.session.getData(`${dir}/${i}`)));
    return Buffer.concat(parts.map((p) => p.data));
  }

  /** Adds the removal of `ref`'s chunks and directory to a multi-op. */
  removeInto(tx: zookeeper.Transaction, queue: string, ref: BlobRef): void {
    const dir = `${this.layout.blobs(queue)}/${ref.key}`;
    for (let i = 0; i < ref.n; i++) tx.remove(`${dir}/${i}`);
    tx.remove(dir);
  }

  /** Removes `ref`'s chunks (those still there) and directory. */
  async remove(queue: string, ref: BlobRef): Promise<void> {
    const dir = `${this.layout.blobs(queue)}/${ref.key}`;
    await Promise.all(Array.from({ length: ref.n }, (_, i) => this.session.removeIfThere(`${dir}/${i}`)));
    await this.session.removeIfThere(dir);
  }
}
