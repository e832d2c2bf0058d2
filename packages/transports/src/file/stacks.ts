/**
 * Stack records of the file broker, next to its queues: `stacks/<stack>.json` holds a stack's state
 * document, `stacks/<stack>.lock` its apply lock.
 *
 * The state file is replaced by writing a temporary file and renaming it over the old one, so a
 * reader sees the old document or the new one, never half of one.
 *
 * The lock file is created with `wx` (exactly one process can create it) and holds
 * `{ holder, pid, hostname, expiresAt }`. Its holder renews `expiresAt` every third of the lease.
 * A lock is stale when its lease has run out, or when it was taken on this host by a process that
 * is gone. A stale lock is deleted under a takeover guard (one process at a time, see
 * `#takeOver`), then the lock is created with `wx` again, where again exactly one process wins.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { LockAttempt, LockHolder, StackLock, StackLockOptions, StackStateStore } from '@wakame/core/spi';
import { acquireStackLock, InvalidArgumentError, parseStackDocument, STACK_NAME_PATTERN } from '@wakame/core/spi';
import { isAlive, syncDir } from './process-files.js';

/** Options of {@link FileStacks}. */
export interface FileStacksOptions {
  /** fsync the state file and its directory before a write resolves. @defaultValue false */
  readonly fsync?: boolean;
  /** How long a lock outlives its holder's last renewal (ms). @defaultValue 30_000 */
  readonly leaseMs?: number;
  /** Problems with no caller (a renewal that found the lock taken over). */
  readonly onError?: (error: unknown) => void;
}

/** What a lock file holds. */
interface LockRecord {
  readonly holder: LockHolder;
  readonly pid: number;
  readonly hostname: string;
  /** Epoch ms after which the lock is stale unless renewed. */
  readonly expiresAt: number;
}

/** A lock file as read: its bytes, its identity and what they say. */
interface Seen {
  readonly raw: string;
  readonly ino: number;
  readonly record: LockRecord | undefined;
  readonly stale: boolean;
}

/** Takeover rounds per attempt: enough to step over one stale lock, bounded against a livelock. */
const ATTEMPT_ROUNDS = 3;

/** {@link StackStateStore} of the `file://` transport; see the module description. */
export class FileStacks implements StackStateStore {
  readonly #dir: string;
  readonly #options: FileStacksOptions;
  readonly #held = new Set<FileLock>();

  constructor(root: string, options: FileStacksOptions = {}) {
    this.#dir = join(root, 'stacks');
    this.#options = options;
  }

  get #leaseMs(): number {
    return this.#options.leaseMs ?? 30_000;
  }

  describe(stack: string): string {
    return `state file ${this.#path(stack, '.json')}`;
  }

  async read(stack: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path(stack, '.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return parseStackDocument(text, this.describe(stack));
  }

  async write(stack: string, state: Readonly<Record<string, unknown>>): Promise<void> {
    const file = this.#path(stack, '.json');
    await mkdir(this.#dir, { recursive: true });
    // A leading dot: never the name of a stack's file (stack names start with a letter or digit).
    const tmp = join(this.#dir, `.${stack}.json.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    try {
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
        if (this.#options.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    if (this.#options.fsync) await syncDir(this.#dir);
  }

  async remove(stack: string): Promise<void> {
    await rm(this.#path(stack, '.json'), { force: true });
    if (this.#options.fsync) await syncDir(this.#dir).catch(() => undefined);
  }

  async lock(stack: string, options: StackLockOptions): Promise<StackLock> {
    const path = this.#path(stack, '.lock');
    return acquireStackLock(stack, options, () => this.#attempt(path, options.holder));
  }

  /** Releases the locks still held through this store (its connection is closing). */
  async close(): Promise<void> {
    for (const lock of [...this.#held]) await lock.release().catch(this.#report);
  }

  async #attempt(path: string, holder: LockHolder): Promise<LockAttempt> {
    await mkdir(this.#dir, { recursive: true });
    let seen: Seen | undefined;
    for (let round = 0; round < ATTEMPT_ROUNDS; round++) {
      const raw = this.#record(holder);
      try {
        await writeExclusive(path, raw);
        const lock = new FileLock(path, holder, raw, this.#leaseMs, this.#report, (l) => this.#held.delete(l));
        this.#held.add(lock);
        return { lock };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      seen = await this.#look(path);
      if (!seen) continue; // released in between: create it again
      if (!seen.stale) return { heldBy: seen.record?.holder };
      // Another process is taking it over right now: wait for the outcome like for any holder.
      if (!(await this.#takeOver(path, seen))) return { heldBy: seen.record?.holder };
    }
    return { heldBy: seen?.record?.holder };
  }

  /**
   * Deletes the stale lock `seen` under the takeover guard `<lock>.takeover` (created with `wx`: one
   * process at a time), after checking that the lock file is still the one judged stale (same
   * inode, same bytes). Without the guard, two processes could judge the same lock stale and the
   * slower one would delete the lock the faster one had just created. While the stale file exists,
   * nobody else can create a lock, and nobody else may delete it but its (dead or lapsed) holder.
   * Returns false when another process holds the guard.
   */
  async #takeOver(path: string, seen: Seen): Promise<boolean> {
    const guard = `${path}.takeover`;
    try {
      await writeExclusive(guard, JSON.stringify({ pid: process.pid, hostname: hostname() }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      await this.#clearAbandonedGuard(guard);
      return false;
    }
    try {
      const now = await readWithInode(path);
      if (now && now.ino === seen.ino && now.raw === seen.raw) await rm(path, { force: true });
    } finally {
      await rm(guard, { force: true });
    }
    return true;
  }

  /** Removes a guard left by a process that died mid-takeover (a takeover takes milliseconds). */
  async #clearAbandonedGuard(guard: string): Promise<void> {
    const found = await readWithInode(guard);
    if (!found) return;
    let owner: { pid?: unknown; hostname?: unknown } = {};
    try {
      owner = JSON.parse(found.raw) as typeof owner;
    } catch {
      // being written right now, or its writer died before writing: its age decides
    }
    const dead = owner.hostname === hostname() && typeof owner.pid === 'number' && !isAlive(owner.pid);
    if (!dead && Date.now() - found.mtimeMs <= this.#leaseMs) return;
    // Another process may have cleared it and taken a guard of its own since: not that one.
    const now = await readWithInode(guard);
    if (now?.ino === found.ino && now.raw === found.raw) await rm(guard, { force: true });
  }

  /** The lock file now, or undefined when there is none. Bytes and inode come from one open file. */
  async #look(path: string): Promise<Seen | undefined> {
    const seen = await readWithInode(path);
    if (!seen) return undefined;
    const record = parseRecord(seen.raw);
    // A file without a readable record is one being written right now, or one whose writer died
    // between creating and writing it: only the latter is old.
    const stale = record ? isStale(record) : Date.now() - seen.mtimeMs > this.#leaseMs;
    return { raw: seen.raw, ino: seen.ino, record, stale };
  }

  #record(holder: LockHolder): string {
    return lockRecord(holder, Date.now() + this.#leaseMs);
  }

  #path(stack: string, suffix: string): string {
    // Stack names become file names: the pattern leaves no room for `/` or `..`.
    if (!STACK_NAME_PATTERN.test(stack)) {
      throw new InvalidArgumentError(`invalid stack name '${stack}': use letters, digits, '.', '_' and '-'`);
    }
    return join(this.#dir, `${stack}${suffix}`);
  }

  readonly #report = (error: unknown): void => this.#options.onError?.(error);
}

/** A held lock file: renewed on an unref'd timer until released. */
class FileLock implements StackLock {
  #raw: string;
  #busy: Promise<void> = Promise.resolve();
  #released = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    raw: string,
    readonly leaseMs: number,
    readonly report: (error: unknown) => void,
    readonly forget: (lock: FileLock) => void,
  ) {
    this.#raw = raw;
    // Unref'd: a forgotten lock must not keep the process alive; its lease then lapses.
    this.#timer = setInterval(() => void this.#serial(() => this.#renew()).catch(report), Math.max(leaseMs / 3, 10));
    this.#timer.unref();
  }

  release(): Promise<void> {
    if (this.#released) return this.#busy;
    this.#released = true;
    clearInterval(this.#timer);
    this.forget(this);
    return this.#serial(() => removeIfOurs(this.path, this.#raw));
  }

  /** Runs `task` after the previous one (a renewal never overlaps the release). */
  #serial(task: () => Promise<void>): Promise<void> {
    const run = this.#busy.then(task);
    this.#busy = run.catch(() => undefined);
    return run;
  }

  /**
   * Rewrites `expiresAt` in place, through a handle on the file checked to hold our record: if a
   * takeover deletes the file meanwhile, the write lands in the deleted file, never in a lock that
   * is not ours; a takeover that looks after the write sees the file changed and leaves it alone.
   */
  async #renew(): Promise<void> {
    if (this.#released) return;
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.path, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return this.#lost();
    }
    try {
      if ((await handle.readFile('utf8')) !== this.#raw) return this.#lost();
      const raw = lockRecord(this.holder, Date.now() + this.leaseMs);
      await handle.write(raw, 0, 'utf8');
      await handle.truncate(Buffer.byteLength(raw));
      this.#raw = raw;
    } finally {
      await handle.close();
    }
  }

  #lost(): void {
    clearInterval(this.#timer);
    this.report(
      new Error(`the lock ${this.path} was taken over after its lease ran out (this process did not renew it in time)`),
    );
  }
}

function lockRecord(holder: LockHolder, expiresAt: number): string {
  const record: LockRecord = { holder, pid: process.pid, hostname: hostname(), expiresAt };
  return JSON.stringify(record);
}

function parseRecord(raw: string): LockRecord | undefined {
  try {
    const r = JSON.parse(raw) as Partial<LockRecord>;
    const h = r.holder as Partial<LockHolder> | undefined;
    const valid =
      typeof r.pid === 'number' &&
      typeof r.hostname === 'string' &&
      typeof r.expiresAt === 'number' &&
      typeof h?.id === 'string' &&
      typeof h.description === 'string' &&
      typeof h.since === 'string';
    return valid ? (r as LockRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** The lease ran out, or the holder was a process on this host that is gone (a crash, a kill -9). */
function isStale(record: LockRecord): boolean {
  if (record.expiresAt <= Date.now()) return true;
  return record.hostname === hostname() && !isAlive(record.pid);
}

/**
 * Deletes the lock at `path` if it still holds `raw` (after a lapsed lease it may be another's). A
 * check and a delete, not one atomic step: only a holder that let its lease lapse can lose a race.
 */
async function removeIfOurs(path: string, raw: string): Promise<void> {
  if ((await readWithInode(path))?.raw === raw) await rm(path, { force: true });
}

async function writeExclusive(path: string, raw: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(raw);
  } catch (error) {
    // Created but not written (a full disk): an empty lock would block everyone for a lease.
    await handle.close();
    await rm(path, { force: true });
    throw error;
  }
  await handle.close();
}

async function readWithInode(path: string): Promise<{ raw: string; ino: number; mtimeMs: number } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stats = await handle.stat();
    return { raw: await handle.readFile('utf8'), ino: stats.ino, mtimeMs: stats.mtimeMs };
  } finally {
    await handle.close();
  }
}
