/**
 * A message as the data of its entry znode.
 *
 * Wakame layout: one line of JSON (id, exchange, routing key, properties, expiry, redelivered) then a
 * newline and the body's raw bytes, so a body is stored as is (no base64) and read without a parse.
 * The priority is not in the data: the entry's name says it.
 *
 * kombu layout: kombu's JSON envelope, exactly as kombu's `zookeeper://` transport writes it (the SQL
 * transports' form: kombu keeps the publisher's AMQP-order priority in the envelope and orders by the
 * entry's name).
 *
 * @module
 */
import type { MessageProperties, StoredMessage } from '@wakame/core/spi';
import { DecodeError } from '@wakame/core/spi';
import { decodeKombuPayload, encodeKombuPayload } from '../internal/sql/kombu-envelope.js';
import type { BlobRef } from './blobs.js';
import type { ZkLayoutName } from './layout.js';

/** An entry's data that is not a message this layout writes. */
export class EntryFormatError extends DecodeError {
  override readonly name = 'EntryFormatError';
  override readonly code = 'ERR_ZOOKEEPER_ENTRY';
}

interface Header {
  readonly id: string;
  readonly x: string;
  readonly rk: string;
  readonly p: MessageProperties;
  readonly exp?: number;
  readonly re?: true;
  /** The body is in chunks (too large for the entry's znode). */
  readonly b?: BlobRef;
}

const NEWLINE = 0x0a;

/** The entry data of `message` in `layout`; with `blob`, the body is in those chunks instead. */
export function encodeEntry(layout: ZkLayoutName, message: StoredMessage, blob?: BlobRef): Buffer {
  if (layout === 'kombu') return Buffer.from(encodeKombuPayload(message), 'utf8');
  const header: Header = {
    id: message.id,
    x: message.exchange,
    rk: message.routingKey,
    p: message.properties,
    ...(message.expiresAt !== undefined ? { exp: message.expiresAt } : {}),
    ...(message.redelivered ? { re: true as const } : {}),
    ...(blob ? { b: blob } : {}),
  };
  // JSON.stringify escapes every newline inside strings, so the first newline ends the header.
  const line = Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
  return blob ? line : Buffer.concat([line, message.body]);
}

/**
 * The message an entry's data holds, with the queue-effective `priority` its name says, and where its
 * body is when not in the entry (`blob`; the message's body is then empty).
 * @throws EntryFormatError (or kombu's EnvelopeError) for data this layout does not write.
 */
export function decodeEntry(
  layout: ZkLayoutName,
  data: Buffer,
  priority: number,
): { message: StoredMessage; blob?: BlobRef } {
  if (layout === 'kombu') return { message: { ...decodeKombuPayload(data.toString('utf8')), priority } };
  const end = data.indexOf(NEWLINE);
  if (end < 0) throw new EntryFormatError('entry data has no header line');
  let header: Header;
  try {
    header = JSON.parse(data.subarray(0, end).toString('utf8')) as Header;
  } catch {
    throw new EntryFormatError('entry header is not JSON');
  }
  if (typeof header?.id !== 'string' || typeof header.x !== 'string' || typeof header.rk !== 'string') {
    throw new EntryFormatError('entry header lacks id, exchange or routing key');
  }
  const message: StoredMessage = {
    id: header.id,
    body: data.subarray(end + 1),
    properties: header.p ?? {},
    exchange: header.x,
    routingKey: header.rk,
    priority,
    expiresAt: typeof header.exp === 'number' ? header.exp : undefined,
    redelivered: header.re === true,
  };
  const blob = header.b;
  return blob && typeof blob.key === 'string' && Number.isInteger(blob.n) ? { message, blob } : { message };
}
