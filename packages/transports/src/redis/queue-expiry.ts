/**
 * Queue expiry (`expires`, AMQP's `x-expires`): a queue unused for that long is deleted with its
 * messages, as RabbitMQ does. Use is a marker key with the queue's `expires` as its time to live, set
 * when the queue is declared, on every get or claim, and kept alive while a consumer is attached;
 * any process may delete a queue whose marker lapsed, atomically with checking it (a redeclaration
 * in between wins).
 */
import type { StoreKeys } from './keys.js';
import type { RedisTopology } from './redis-topology.js';
import type { ScriptedRedis } from './scripts.js';

/** How often the markers of expiring queues are checked (ms). */
export const EXPIRY_SWEEP_MS = 1_000;

export class QueueExpiry {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: StoreKeys,
    private readonly topology: RedisTopology,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** A get or claim on `queue` counts as use. */
  touch(queue: string): void {
    const expires = this.topology.queueSpecs.get(queue)?.expires;
    if (expires !== undefined) this.redis.set(this.keys.used(queue), '1', 'PX', expires).catch(this.onError);
  }

  /** A consumer keeps its queue in use until the returned function is called. */
  hold(queue: string): () => void {
    const expires = this.topology.queueSpecs.get(queue)?.expires;
    if (expires === undefined) return () => {};
    this.touch(queue);
    const timer = setInterval(() => this.touch(queue), Math.max(Math.floor(expires / 3), 50));
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Deletes the expiring queues whose marker lapsed. @returns their names. */
  async sweep(): Promise<string[]> {
    const expiring = [...this.topology.queueSpecs.values()].filter((q) => q.expires !== undefined).map((q) => q.name);
    if (expiring.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const name of expiring) pipeline.exists(this.keys.used(name));
    const alive = (await pipeline.exec()) ?? [];
    const deleted: string[] = [];
    for (const [i, name] of expiring.entries()) {
      if (alive[i]?.[1] === 1) continue;
      const k = this.keys;
      // The cluster layout keeps the marker with the records (topology slot) and the lists in the queue's
      // slot: the record goes atomically with the check, the lists right after (a publish in between to a
      // queue being deleted is lost with it, as it would be a moment later).
      const lists = k.kombu ? k.lists(name) : [];
      const deletedNow = await this.redis.wakameEXPIREQUEUE(
        3 + lists.length,
        k.used(name),
        k.queues,
        k.revision,
        ...lists,
        name,
      );
      if (deletedNow !== 1) continue;
      if (!k.kombu) await this.redis.wakamePURGE(k.steps.length, ...k.lists(name));
      const snapshot = await this.topology.snapshot();
      for (const b of snapshot.bindings) {
        if (b.destinationType === 'queue' && b.destination === name) await this.topology.removeBinding(b);
      }
      this.topology.forget(name);
      deleted.push(name);
    }
    return deleted;
  }
}
