/**
 * Process and file-system helpers the file broker's message store and its stack records share.
 *
 * @module
 */
import { open } from 'node:fs/promises';

/** Whether process `pid` exists on this host (EPERM: it exists, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** fsyncs a directory, so a rename into it survives a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
