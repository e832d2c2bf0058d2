/**
 * Moves messages from one queue to another with AMQP transactions, so that a process killed at any
 * instant neither loses nor duplicates a message: on one channel in `tx.select` mode, a batch of
 * `basic.get`s is republished to the destination (default exchange, routing key = queue name, every
 * property and header kept) and acked, then `tx.commit` makes the publishes and the acks happen
 * together. Killed before the commit, the channel closes uncommitted: the gets return to the source
 * and nothing was published; killed after it, both happened.
 *
 * That atomicity is against a client failure. A broker that crashes mid-commit gives no such
 * promise (RabbitMQ's transactions are not atomic across queues on a broker crash).
 *
 * @module
 */
import { NotFoundError } from '@wakame/core/spi';
import type { Channel, ChannelModel, GetMessage, Message, Options } from 'amqplib';
import { fromAmqpError } from './errors.js';

/**
 * AMQP 0-9-1 method ids (class << 16 | method) of the tx class (90), for amqplib's `rpc`: it is a
 * public method of its channels, but neither typed nor offered for transactions.
 */
const TX_SELECT = (90 << 16) | 10;
const TX_SELECT_OK = (90 << 16) | 11;
const TX_COMMIT = (90 << 16) | 20;
const TX_COMMIT_OK = (90 << 16) | 21;

type RpcChannel = Channel & { rpc(method: number, fields: object, expect: number): Promise<unknown> };

/** Messages per transaction: big enough to amortise the commit, small enough to hold in memory. */
export const MOVE_BATCH = 200;

/** What happens to one message taken from the source. */
export type MoveVerdict = 'move' | 'drop';

/** Options of {@link MessageMover.move}. */
export interface MoveOptions {
  /** Decides, per message, whether it is republished or only acked (a duplicate, a fence). */
  readonly verdict?: (message: Message) => MoveVerdict;
  /** Called after each committed batch with the running totals. */
  readonly onBatch?: (totals: MoveTotals) => void;
  readonly signal?: AbortSignal | undefined;
}

/** Counts of one {@link MessageMover.move}. */
export interface MoveTotals {
  readonly moved: number;
  readonly dropped: number;
}

/** The transactional mover; one channel, used by one move at a time. */
export class MessageMover {
  readonly #channel: Channel;
  readonly #returned: Message[] = [];

  private constructor(channel: Channel) {
    this.#channel = channel;
    // A destination deleted behind our back returns the message (mandatory): see #restoreReturned.
    channel.on('return', (m: Message) => this.#returned.push(m));
  }

  /** Opens a channel on `connection` and puts it in transaction mode. */
  static async open(connection: ChannelModel): Promise<MessageMover> {
    try {
      const channel = await connection.createChannel();
      // Errors reach the operation that caused them; without a listener they would crash the process.
      channel.on('error', () => {});
      await (channel as RpcChannel).rpc(TX_SELECT, {}, TX_SELECT_OK);
      return new MessageMover(channel);
    } catch (error) {
      throw fromAmqpError(error, { operation: 'opening the migration channel' });
    }
  }

  /**
   * Moves every message of `source` to `destination` until `source` is empty (messages that keep
   * arriving are moved too). An uncommitted batch is rolled back by the broker when the channel
   * closes, so an abort or an error leaves every message in exactly one of the two queues.
   */
  async move(source: string, destination: string, options: MoveOptions = {}): Promise<MoveTotals> {
    let moved = 0;
    let dropped = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const batch = await this.#take(source);
      if (batch.length === 0) return { moved, dropped };
      let batchMoved = 0;
      for (const m of batch) {
        if ((options.verdict?.(m) ?? 'move') === 'move') {
          this.#channel.publish('', destination, m.content, republishOptions(m));
          batchMoved++;
        }
        this.#channel.ack(m);
      }
      await this.#commit(source, destination);
      if (this.#returned.length > 0) await this.#restoreReturned(source, destination);
      moved += batchMoved;
      dropped += batch.length - batchMoved;
      options.onBatch?.({ moved, dropped });
    }
  }

  async close(): Promise<void> {
    await this.#channel.close().catch(() => undefined);
  }

  async #take(source: string): Promise<GetMessage[]> {
    const batch: GetMessage[] = [];
    try {
      while (batch.length < MOVE_BATCH) {
        const m = await this.#channel.get(source, { noAck: false });
        if (m === false) break;
        batch.push(m);
      }
    } catch (error) {
      throw fromAmqpError(error, { entity: { kind: 'queue', name: source }, operation: `moving from '${source}'` });
    }
    return batch;
  }

  async #commit(source: string, destination: string): Promise<void> {
    try {
      await (this.#channel as RpcChannel).rpc(TX_COMMIT, {}, TX_COMMIT_OK);
    } catch (error) {
      throw fromAmqpError(error, { operation: `moving messages from '${source}' to '${destination}'` });
    }
  }

  /**
   * The destination vanished (someone deleted it): the broker returned the messages before the
   * commit-ok, and the commit acked them off the source. Put them back into the source at once and
   * stop. Only a crash between the two commits could lose them; the migration never deletes a
   * queue it is moving into, so this guards against foreign interference only.
   */
  async #restoreReturned(source: string, destination: string): Promise<void> {
    const returned = this.#returned.splice(0);
    for (const m of returned) this.#channel.publish('', source, m.content, republishOptions(m));
    await this.#commit(destination, source);
    throw new NotFoundError({ kind: 'queue', name: destination });
  }
}

/**
 * Publish options that reproduce `m`'s properties. `CC`/`BCC` are left out: RabbitMQ routes on them
 * (sender-selected distribution), so keeping them would copy the message into other queues again.
 */
export function republishOptions(m: Message): Options.Publish {
  const p = m.properties;
  const o: Options.Publish = { mandatory: true };
  if (p.headers !== undefined) {
    const { CC: _cc, BCC: _bcc, ...headers } = p.headers as Record<string, unknown>;
    o.headers = headers;
  }
  if (p.contentType != null) o.contentType = p.contentType;
  if (p.contentEncoding != null) o.contentEncoding = p.contentEncoding;
  if (p.deliveryMode != null) o.deliveryMode = p.deliveryMode;
  if (p.priority != null) o.priority = p.priority;
  if (p.correlationId != null) o.correlationId = p.correlationId;
  if (p.replyTo != null) o.replyTo = p.replyTo;
  if (p.expiration != null) o.expiration = p.expiration;
  if (p.messageId != null) o.messageId = p.messageId;
  if (p.timestamp != null) o.timestamp = p.timestamp;
  if (p.type != null) o.type = p.type;
  if (p.userId != null) o.userId = p.userId;
  if (p.appId != null) o.appId = p.appId;
  return o;
}
