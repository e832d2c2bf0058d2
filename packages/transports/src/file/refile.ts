/**
 * Re-filing a file broker's queue under new priorities (a `maxPriority` change made in place). A
 * batch file's priority is the first field of its key (`255 - priority`), so that listings are
 * delivery order; re-filing claims each ready file (as a consumer would: atomic, and restored should
 * this process die), writes its records back under the keys their own priority (`properties.priority`,
 * clamped to the new maximum) gives them, one file per run of records that share one, then drops the
 * claim. A consumer that claims a file first keeps it (its messages keep their old priority). Running
 * it again finishes an interrupted run: files already under the right priority are put back unchanged.
 *
 * @module
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BatchRecord,
  batchName,
  encodeBatch,
  encodeRecord,
  parseBatchName,
  priorityOfKey,
  withPriority,
} from './batch-file.js';
import type { Claims } from './claims.js';

/**
 * Re-files every ready batch file of `queue` (in `batchesDir`) under the priorities `maxPriority`
 * gives its records (0 for all when undefined). @returns how many records moved.
 */
export async function refileQueue(
  claims: Claims,
  queue: string,
  batchesDir: string,
  maxPriority: number | undefined,
): Promise<number> {
  let moved = 0;
  for (const bucket of (await readdir(batchesDir).catch(() => [] as string[])).filter((b) => !b.startsWith('.'))) {
    for (const name of await readdir(join(batchesDir, bucket)).catch(() => [] as string[])) {
      if (!parseBatchName(name)) continue; // a temporary file, or a stranger's (a claim moves it aside)
      const file = await claims.claim(queue, bucket, name, Number.POSITIVE_INFINITY);
      if (!file) continue; // claimed by a consumer in between: it keeps the priority it had
      const target = (r: BatchRecord) =>
        maxPriority === undefined ? 0 : Math.min(r.header.properties.priority ?? 0, maxPriority);
      const current = priorityOfKey(file.name.key);
      const runs: { priority: number; from: number; records: Buffer[][] }[] = [];
      file.records.forEach((record, i) => {
        const priority = target(record);
        const last = runs.at(-1);
        const encoded = encodeRecord(record.rawHeader, record.body);
        if (last && last.priority === priority) last.records.push(encoded);
        else runs.push({ priority, from: i, records: [encoded] });
        if (priority !== current) moved++;
      });
      for (const run of runs) {
        const key = withPriority(file.name.key, run.priority);
        await claims.place(
          queue,
          batchName(key, file.name.first + run.from, run.records.length),
          encodeBatch(run.records),
        );
      }
      await claims.drop(file);
    }
  }
  return moved;
}
