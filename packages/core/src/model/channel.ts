import { NotBoundError } from '../errors.js';
import type { Message } from '../messaging/message.js';
import type { TopologyAdmin } from '../transport/spi.js';

/**
 * What a declaration needs to act on a broker: a {@link Connection} implements it. Declarations are
 * plain data until {@link Exchange.attach}/{@link Queue.attach} gives them one (kombu's "bound" entities).
 */
export interface Channel {
  /** The declaring side of the broker connection. */
  readonly admin: TopologyAdmin;
  /** Fetch one message from a queue without subscribing (basic.get). */
  getMessage(queue: string, options?: { noAck?: boolean; accept?: readonly string[] }): Promise<Message | undefined>;
}

/** Returns the channel, or throws {@link NotBoundError} naming the entity and the operation. */
export function requireChannel(channel: Channel | undefined, entity: string, operation: string): Channel {
  if (!channel) {
    throw new NotBoundError(
      `${entity} is not attached to a connection: call .attach(connection) before .${operation}()`,
    );
  }
  return channel;
}
