/**
 * The on-disk format of a file broker's directory, recorded in `format.json`. Format 1 (no such
 * file) kept one file per message in `queues/<q>/ready/` and `claimed/`; format 2 keeps batch files
 * in `queues/<q>/batches/` and `claims/` (see `batch-file.ts`). Opening a format-1 directory moves
 * its messages into batch files, once, under a lock; a claimed message of a process that is still
 * alive stops that (an older Wakame is using the directory), and so does a newer format.
 *
 * @module
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TransportError } from '@wakame/core/spi';
import { batchName, encodeBatch, encodeRecord, parseBatchName, type RecordHeader } from './batch-file.js';
import { placeBatch } from './batch-writer.js';
import { readMessageFile } from './message-file.js';

/** The format this version writes and reads. */
export const FILE_FORMAT = 2;

const LOCK_WAIT_MS = 60_000;
const LOCK_STALE_MS = 30_000;

/**
 * A file broker directory this version cannot use: written by a newer Wakame, or still in use by an
 * older one. Not retriable as such: the directory has to be dealt with first (the message says how).
 */
export class FileFormatError extends TransportError {
  override readonly name = 'FileFormatError';
  override readonly code = 'ERR_FILE_FORMAT';
  override readonly retriable = false;
  override readonly recovery = 'none' as const;
}

/**
 * Makes sure `root` is in format 2, migrating a format-1 directory as `owner` (the opening store).
 * `live` tells the owners (lease or process) that are alive. @throws FileFormatError as described in the module.
 */
export async function ensureFormat(
  root: string,
  owner: string,
  live: () => Promise<ReadonlySet<string>>,
): Promise<void> {
  const file = join(root, 'format.json');
  if ((await readFormat(file)) !== undefined) return;
  const lock = join(root, 'format.lock');
  await acquire(lock);
  try {
    if ((await readFormat(file)) !== undefined) return;
    await migrateV1(root, owner, await live());
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ format: FILE_FORMAT })}\n`);
    await rename(tmp, file);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function readFormat(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const format = (JSON.parse(text) as { format?: unknown }).format;
  if (format === FILE_FORMAT) return format;
  throw new FileFormatError(
    `${file} says format ${String(format)}; this Wakame reads format ${FILE_FORMAT}: open the directory with the Wakame that wrote it`,
  );
}

/** One format-1 message file's name: priority, time, pid, counter; `.r` when redelivered. */
const V1_NAME = /^(\d{3}-\d{14}-\d+-\d+)(\.r)?$/;

/**
 * Moves every format-1 message into a batch file of its own, under the key its name had (so the
 * order holds), then removes the old file: a crash in between leaves both, and the rerun replaces
 * the batch file rather than adding one. Unreadable files go to `corrupt/`, as a claim would move them.
 */
async function migrateV1(root: string, owner: string, live: ReadonlySet<string>): Promise<void> {
  const queuesDir = join(root, 'queues');
  const queues = await readdir(queuesDir).catch(() => [] as string[]);
  // Refuse before moving anything: an older process still holds messages here.
  for (const encoded of queues) {
    for (const entry of await readdir(join(queuesDir, encoded, 'claimed')).catch(() => [] as string[])) {
      const holder = entry.slice(entry.lastIndexOf('~') + 1);
      if (live.has(holder))
        throw new FileFormatError(
          `an older Wakame process (owner ${holder}) holds messages of queue '${decodeURIComponent(encoded)}' in ${root}: stop it, then open the directory again`,
        );
    }
  }
  for (const encoded of queues) {
    const dir = join(queuesDir, encoded);
    const files = [
      ...(await readdir(join(dir, 'ready')).catch(() => [] as string[])).map((n) => ({ sub: 'ready', entry: n })),
      ...(await readdir(join(dir, 'claimed')).catch(() => [] as string[])).map((n) => ({ sub: 'claimed', entry: n })),
    ];
    for (const sub of ['batches', 'claims']) await mkdir(join(dir, sub), { recursive: true });
    for (const { sub, entry } of files) {
      const path = join(dir, sub, entry);
      const name = sub === 'claimed' ? entry.slice(0, entry.lastIndexOf('~')) : entry;
      const match = V1_NAME.exec(name);
      let data: Awaited<ReturnType<typeof readMessageFile>> | undefined;
      try {
        data = match ? await readMessageFile(path) : undefined;
      } catch {
        data = undefined;
      }
      const header = data ? parseV1Header(data.header) : undefined;
      if (!match || !data || !header) {
        await mkdir(join(root, 'corrupt'), { recursive: true });
        await rename(path, join(root, 'corrupt', `${Date.now()}-${entry}`)).catch(() => undefined);
        continue;
      }
      // A claim of a process that is gone comes back redelivered, as its restore would have made it.
      const redelivered = match[2] !== undefined || sub === 'claimed';
      const record = encodeRecord(redelivered ? { ...header, redelivered: true } : header, data.body);
      const target = batchName(match[1] as string, 0, 1);
      if (!parseBatchName(target)) continue;
      await placeBatch(join(dir, 'batches'), target, encodeBatch([record]), { fsync: true, owner });
      await unlink(path).catch(() => undefined);
    }
    for (const sub of ['ready', 'claimed']) await rmdir(join(dir, sub)).catch(() => undefined);
  }
  await rm(join(root, 'tmp'), { recursive: true, force: true });
}

function parseV1Header(raw: Buffer): RecordHeader | undefined {
  try {
    const h = JSON.parse(raw.toString('utf8')) as Partial<RecordHeader>;
    if (typeof h.id !== 'string') return undefined;
    return {
      id: h.id,
      properties: h.properties ?? {},
      exchange: h.exchange ?? '',
      routingKey: h.routingKey ?? '',
      expiresAt: h.expiresAt ?? null,
    };
  } catch {
    return undefined;
  }
}

/** `mkdir` is atomic: whoever creates the lock directory migrates; a lock older than 30 s is stale. */
async function acquire(lock: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      await mkdir(lock);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
    if (Date.now() > deadline)
      throw new FileFormatError(`could not lock ${lock} within ${LOCK_WAIT_MS} ms to migrate the directory`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
