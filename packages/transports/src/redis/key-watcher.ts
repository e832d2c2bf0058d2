/**
 * Tells a store which keys other clients changed, so consumers sleep until a queue they consume
 * gets a message and nobody polls.
 *
 * Why not `BRPOP` like kombu: a blocking pop takes the message out of Redis before it is recorded as
 * unacked, which is kombu's message-loss window; `BLMOVE` is atomic but watches a single list, and a
 * consumer watches every priority list of every queue it consumes. So the pop stays an atomic script
 * and the waiting is done by Redis's key-change broadcast (`CLIENT TRACKING … BCAST PREFIX`, Redis 6+):
 * any write to a watched key, by Wakame or by a Python kombu producer, is pushed to a second
 * connection subscribed to `__redis__:invalidate`. `NOLOOP` leaves out the command connection's own
 * writes, which the store reports to itself directly.
 *
 * Where tracking is refused (Redis before 6, an ACL without `CLIENT`), {@link KeyWatcher.supported}
 * is false and the store polls instead.
 */
import type { Redis } from 'ioredis';
import type { ChangeFeed } from './wakeups.js';

const INVALIDATE = '__redis__:invalidate';

export class KeyWatcher implements ChangeFeed {
  readonly #prefixes = new Set<string>();
  #active = '';
  #redirectId: number | undefined;
  #supported = true;
  #applying: Promise<void> = Promise.resolve();

  constructor(
    private readonly command: Redis,
    private readonly events: Redis,
    /** Receives changed keys; `undefined` when Redis flushed everything (FLUSHDB). */
    private readonly onChange: (keys: readonly string[] | undefined) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    // A new events connection has a new id and no subscription (autoResubscribe is off for it: a
    // subscribed connection may not ask for its own id).
    events.on('close', () => {
      this.#redirectId = undefined;
    });
    events.on('messageBuffer', (channel: Buffer, data: unknown) => {
      if (channel.toString() !== INVALIDATE) return;
      if (Array.isArray(data)) this.onChange(data.map((k: Buffer) => k.toString()));
      else this.onChange(undefined);
    });
  }

  /** Redis reports writes to tracked keys itself (a Python producer's too): nothing to announce. */
  queueWritten(_queue: string): void {}

  topologyWritten(): void {}

  /** Whether Redis accepted key tracking; when false the store must poll. */
  get supported(): boolean {
    return this.#supported;
  }

  /** Starts (or, after a reconnect of either connection, restarts) the broadcast. */
  async start(): Promise<void> {
    this.#active = '';
    try {
      if (this.#redirectId === undefined) {
        const id = Number(await this.events.client('ID'));
        await this.events.subscribe(INVALIDATE);
        this.#redirectId = id;
      }
      this.#supported = true;
    } catch (error) {
      this.#supported = false;
      this.onError(error);
      return;
    }
    await this.#apply();
  }

  /** Watches every key starting with `prefix` (exact keys are filtered by the caller). */
  add(prefix: string): Promise<void> {
    this.#prefixes.add(prefix);
    return this.#apply();
  }

  delete(prefix: string): Promise<void> {
    this.#prefixes.delete(prefix);
    return this.#apply();
  }

  /** Serialised, because OFF+ON must not interleave with another change. */
  #apply(): Promise<void> {
    this.#applying = this.#applying.then(() => this.#applyNow());
    return this.#applying;
  }

  async #applyNow(): Promise<void> {
    if (!this.#supported || this.#redirectId === undefined) return;
    const cover = minimalCover(this.#prefixes);
    const signature = cover.join('\u0000');
    if (signature === this.#active) return;
    const args: (string | number)[] = ['TRACKING', 'ON', 'REDIRECT', this.#redirectId, 'BCAST', 'NOLOOP'];
    for (const p of cover) args.push('PREFIX', p);
    try {
      // Prefixes of one client must not overlap, and a prefix cannot be dropped while tracking is on:
      // switch off and on again in one transaction, so no change is missed in between.
      const tx = this.command.multi().client('TRACKING', 'OFF');
      if (cover.length > 0) tx.call('CLIENT', ...args);
      const results = await tx.exec();
      for (const [error] of results ?? []) if (error) throw error;
      this.#active = signature;
    } catch (error) {
      this.#supported = false;
      this.onError(error);
    }
  }
}

/** The fewest prefixes covering all of `prefixes` (a prefix of another makes the other redundant). */
export function minimalCover(prefixes: Iterable<string>): string[] {
  const sorted = [...new Set(prefixes)].sort();
  const kept: string[] = [];
  for (const p of sorted) {
    const last = kept[kept.length - 1];
    if (last !== undefined && p.startsWith(last)) continue;
    kept.push(p);
  }
  return kept;
}
