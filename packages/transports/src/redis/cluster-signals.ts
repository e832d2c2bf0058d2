/**
 * Wake-ups for the cluster layout: the {@link ChangeFeed} that key-change tracking is on one Redis.
 *
 * Why not tracking: `CLIENT TRACKING … BCAST` reports writes on the node the tracking connection is on, and
 * redirects them to a connection on that same node; on a cluster that means a pair of connections per master,
 * rebuilt on every failover and resharding. Keyspace notifications have the same per-node shape and need a
 * server setting. So in this layout writers announce what they wrote: after a push, requeue, restore or
 * topology change, the store `PUBLISH`es its owner id on the queue's channel `<p>{q.<queue>}:signal` (or the
 * topology's `<p>{_wakame}:signal`), and consumers subscribe to the channels of the queues they consume.
 *
 * Classic (not sharded) PUB/SUB is used on purpose: the cluster bus relays every `PUBLISH` to every node, so
 * ioredis's one subscriber connection (to any node, moved by ioredis when that node fails, subscriptions
 * renewed) hears every channel, and a failover of the queue's master never silences its channel. The cost is
 * that each signal crosses the bus once per node; signals are batched like the writes they follow (one per
 * queue per event-loop turn). The channels carry hash tags, so moving to sharded `SPUBLISH` is a local change.
 *
 * A signal lost with a connection is made up for by the store's periodic safety net (every consumer looks
 * again at each lease renewal) and by the look-again after a reconnect, as on one Redis.
 */
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './cluster-keys.js';
import type { ChangeFeed } from './wakeups.js';

export class ClusterSignals implements ChangeFeed {
  readonly supported = true;
  readonly #channels = new Set<string>();

  constructor(
    private readonly command: Redis,
    private readonly events: Redis,
    private readonly keys: ClusterKeys,
    /** This store's owner id: the payload of its signals, so it ignores its own (it notifies itself directly). */
    private readonly owner: string,
    private readonly onChange: (keys: readonly string[]) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    events.on('message', (channel: string, payload: string) => {
      if (payload === this.owner) return;
      const key = this.keys.keyOfSignal(channel);
      if (key !== undefined) this.onChange([key]);
    });
  }

  /** Subscribes again to everything followed (a `SUBSCRIBE` of a channel already subscribed is a no-op). */
  async start(): Promise<void> {
    if (this.#channels.size > 0) await this.events.subscribe(...this.#channels);
  }

  async add(channel: string): Promise<void> {
    this.#channels.add(channel);
    await this.events.subscribe(channel);
  }

  async delete(channel: string): Promise<void> {
    this.#channels.delete(channel);
    await this.events.unsubscribe(channel);
  }

  queueWritten(queue: string): void {
    this.command.publish(this.keys.signal(queue), this.owner).catch(this.onError);
  }

  topologyWritten(): void {
    this.command.publish(this.keys.topologySignal, this.owner).catch(this.onError);
  }
}
