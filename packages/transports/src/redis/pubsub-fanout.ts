/**
 * kombu's PUB/SUB fanout, as an explicitly chosen ephemeral mode. A fanout exchange declared with the
 * argument `x-redis-fanout: 'pubsub'` publishes each message once on kombu's channel
 * (`<prefix>/<db>.<exchange>`, or `…/<routing key>` with one), so Python kombu consumers of a fanout
 * exchange (Celery's broadcast and remote control) receive it; Wakame consumers of queues bound to it
 * subscribe to the same channels. Only consumers connected at that moment receive it: nothing is stored
 * for anyone else, which is why this is not the default (a durable copy per bound queue, as AMQP does).
 */
import type { Redis } from 'ioredis';
import { pythonJson } from '../internal/kombu-envelope.js';
import { escapeGlob, type StoreKeys, stepFor } from './keys.js';
import type { ScriptedRedis } from './scripts.js';

/** The exchange argument that selects this mode, and its value. */
export const FANOUT_MODE_ARGUMENT = 'x-redis-fanout';
export const PUBSUB_MODE = 'pubsub';

/** How long the once-only marker of a received message lives (ms). */
const ONCE_MS = 60_000;

export class PubSubFanout {
  /** One PUBLISH per publish: the transport hands one copy per bound queue, all sharing `properties`. */
  readonly #published = new WeakMap<object, Promise<void>>();
  /** Subscribed pattern → exchange. */
  readonly #patterns = new Map<string, string>();
  /** Exchange → queues consumed here that are bound to it, with how many consumers each. */
  readonly #followers = new Map<string, Map<string, number>>();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly events: Redis,
    private readonly keys: StoreKeys,
    private readonly db: number,
    /** A message was pushed into `queue`'s list. */
    private readonly delivered: (queue: string) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    events.on('pmessageBuffer', (pattern: Buffer, _channel: Buffer, data: Buffer) => {
      const exchange = this.#patterns.get(pattern.toString());
      if (exchange !== undefined) this.#receive(exchange, data.toString()).catch(this.onError);
    });
  }

  /** kombu's `_get_publish_topic` (with its default `fanout_patterns`). */
  channel(exchange: string, routingKey: string): string {
    const base = `${this.keys.prefix}/${this.db}.${exchange}`;
    return routingKey === '' ? base : `${base}/${routingKey}`;
  }

  /** Publishes `element` once for all the copies of one publish (identified by their shared `properties`). */
  publish(exchange: string, routingKey: string, properties: object, element: () => string): Promise<void> {
    let done = this.#published.get(properties);
    if (!done) {
      done = this.redis.publish(this.channel(exchange, routingKey), element()).then(() => undefined);
      this.#published.set(properties, done);
    }
    return done;
  }

  /** Starts receiving `exchange`'s messages into `queue`; returns the function that stops it. */
  follow(queue: string, exchange: string): () => void {
    let queues = this.#followers.get(exchange);
    if (!queues) {
      queues = new Map();
      this.#followers.set(exchange, queues);
      this.#subscribe(exchange).catch(this.onError);
    }
    queues.set(queue, (queues.get(queue) ?? 0) + 1);
    return () => {
      const current = this.#followers.get(exchange);
      const left = (current?.get(queue) ?? 1) - 1;
      if (left > 0) {
        current?.set(queue, left);
        return;
      }
      current?.delete(queue);
      if (current?.size === 0) {
        this.#followers.delete(exchange);
        this.#unsubscribe(exchange).catch(this.onError);
      }
    };
  }

  /** Subscriptions die with the events connection: renew them on the new one. */
  async resubscribe(): Promise<void> {
    if (this.#patterns.size > 0) await this.events.psubscribe(...this.#patterns.keys());
  }

  #patternsOf(exchange: string): string[] {
    const base = escapeGlob(this.channel(exchange, ''));
    return [base, `${base}/*`];
  }

  async #subscribe(exchange: string): Promise<void> {
    const patterns = this.#patternsOf(exchange);
    for (const p of patterns) this.#patterns.set(p, exchange);
    await this.events.psubscribe(...patterns);
  }

  async #unsubscribe(exchange: string): Promise<void> {
    const patterns = this.#patternsOf(exchange);
    for (const p of patterns) this.#patterns.delete(p);
    await this.events.punsubscribe(...patterns);
  }

  /** Each queue gets its own copy under its own tag (tags key the `unacked` hash). */
  async #receive(exchange: string, raw: string): Promise<void> {
    const queues = [...(this.#followers.get(exchange)?.keys() ?? [])];
    if (queues.length === 0) return;
    const envelope = JSON.parse(raw) as { properties?: { delivery_tag?: unknown; priority?: unknown } };
    const props = envelope.properties ?? {};
    const tag = typeof props.delivery_tag === 'string' ? props.delivery_tag : String(Date.now());
    const step = stepFor(typeof props.priority === 'number' ? props.priority : 0, this.keys.steps);
    for (const queue of queues) {
      props.delivery_tag = `${tag}.${queue}`;
      envelope.properties = props;
      const once = this.keys.once(queue, tag);
      if (
        (await this.redis.wakameDELIVERONCE(2, once, this.keys.list(queue, step), pythonJson(envelope), ONCE_MS)) === 1
      ) {
        this.delivered(queue);
      }
    }
  }
}
