/**
 * A format-1 message file (one file per message, before batch files): one JSON header line (id,
 * properties, exchange, routing key, expiry), then the body's bytes. Read only to migrate a format-1
 * directory (`format.ts`).
 *
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

/** How much of a file is read at a time while looking for the end of its header line. */
const HEADER_CHUNK = 64 * 1024;
const NO_BODY = Buffer.alloc(0);

/**
 * Reads a message file: its header line, and its body unless the body is larger than `maxBodyBytes`;
 * then only the body's size is known (the file's size less the header line), and nothing of the body
 * is read.
 */
export async function readMessageFile(
  path: string,
  maxBodyBytes = Number.POSITIVE_INFINITY,
): Promise<{ header: Buffer; body: Buffer; withheld?: number }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size <= maxBodyBytes) {
      // The whole file is within the bound, so the body is: one read, as readFile would.
      const data = await readAt(handle, 0, size);
      const newline = data.indexOf(10);
      if (newline < 0) throw new SyntaxError('no header line');
      return { header: data.subarray(0, newline), body: data.subarray(newline + 1) };
    }
    const parts: Buffer[] = [];
    let position = 0;
    let newline = -1;
    while (newline < 0 && position < size) {
      const chunk = await readAt(handle, position, Math.min(HEADER_CHUNK, size - position));
      if (chunk.length === 0) break;
      newline = chunk.indexOf(10);
      parts.push(newline < 0 ? chunk : chunk.subarray(0, newline));
      position += newline < 0 ? chunk.length : newline + 1;
    }
    if (newline < 0) throw new SyntaxError('no header line');
    const header = Buffer.concat(parts);
    const bodySize = size - position;
    if (bodySize > maxBodyBytes) return { header, body: NO_BODY, withheld: bodySize };
    return { header, body: await readAt(handle, position, bodySize) };
  } finally {
    await handle.close();
  }
}

/** `length` bytes from `position` (fewer only at the end of the file). */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}
