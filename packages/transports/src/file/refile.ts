/**
 * Re-filing a file broker's queue under new priorities (a `maxPriority` change made in place). A
 * message's priority is the first field of its file name (`255 - priority`, three digits), so that a
 * directory listing is delivery order; re-filing renames each ready file to the name its message's
 * own priority (`properties.priority`, clamped to the new maximum) gives it. A rename is atomic: a
 * consumer that claims the file first keeps it (and it keeps its old priority), and a message is never
 * in two files. Running it again finishes an interrupted run and renames nothing twice.
 *
 * @module
 */
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { readMessageHeader } from './message-file.js';

/** Characters of the priority field at the start of a message file's name. */
const PRIORITY_FIELD = 3;

/** The file-name field of `priority` (lower sorts first, so higher priorities are delivered first). */
export function priorityField(priority: number): string {
  return String(255 - priority).padStart(PRIORITY_FIELD, '0');
}

/** The priority a message file's name files it under. */
export function priorityOfName(name: string): number {
  return 255 - Number(name.slice(0, PRIORITY_FIELD));
}

/**
 * Renames every ready message of `readyDir` to the priority `maxPriority` gives it (0 for all when
 * undefined). @returns how many files moved.
 */
export async function refileReady(readyDir: string, maxPriority: number | undefined): Promise<number> {
  let moved = 0;
  for (const name of await readdir(readyDir).catch(() => [] as string[])) {
    let original: number | undefined;
    try {
      original = (await readMessageHeader(join(readyDir, name))).properties?.priority;
    } catch {
      continue; // claimed meanwhile, or unreadable (a consumer's claim moves it to corrupt/)
    }
    const priority = maxPriority === undefined ? 0 : Math.min(original ?? 0, maxPriority);
    if (priority === priorityOfName(name)) continue;
    const renamed = priorityField(priority) + name.slice(PRIORITY_FIELD);
    try {
      await rename(join(readyDir, name), join(readyDir, renamed));
      moved++;
    } catch {
      // claimed by a consumer in between: it keeps the priority it had
    }
  }
  return moved;
}
