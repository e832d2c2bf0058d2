/**
 * The file broker's batch files (format 2): every publish of one event-loop turn to one queue and
 * priority is one file, so a message costs a share of one write and one rename instead of a file of
 * its own.
 *
 * A batch file is `WKB2` then records, each `u32 header length, u32 body length, header JSON, body`
 * (big-endian). Its name says where it sorts and what it holds: `<key>.<first>.<count>`, where the
 * key is the writer's `<255 - priority>-<ms>-<pid>-<counter>` (so a listing is delivery order), and
 * `first`/`count` the records' indices in the batch as first written. A file split by a claim, or
 * holding records that came back, keeps the key with its own range, so records return to their
 * place and a record is in exactly one file. Files sit in one directory per priority and second
 * (`<255 - priority>-<seconds>`), so no listing grows with the depth of the queue.
 *
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import type { StoredMessage } from '@wakame/core/spi';

const MAGIC = Buffer.from('WKB2');
const PREFIX = 8;
/** Digits of a record index in a file name; also bounds the records of one batch. */
const INDEX_DIGITS = 6;
export const MAX_BATCH_RECORDS = 10 ** INDEX_DIGITS - 1;
/** Characters of the priority field at the start of a key. */
const PRIORITY_FIELD = 3;
/** A bucket is the key up to the millisecond time's seconds: `ppp-` and 11 of its 14 digits. */
const BUCKET_CHARS = PRIORITY_FIELD + 1 + 11;

/** The header a record keeps (the body follows it). */
export interface RecordHeader {
  readonly id: string;
  readonly properties: StoredMessage['properties'];
  readonly exchange: string;
  readonly routingKey: string;
  readonly expiresAt: number | null;
  /** Delivered before and came back. */
  readonly redelivered?: true;
}

/** A record read from a batch file. */
export interface BatchRecord {
  readonly header: RecordHeader;
  /** The header's bytes as stored, to write the record again unchanged. */
  readonly rawHeader: Buffer;
  /** Empty when withheld (`bodyBytes` over the reader's bound). */
  readonly body: Buffer;
  readonly bodyBytes: number;
  readonly withheld: boolean;
  /** Where the body starts in the file it was read from. */
  readonly bodyAt: number;
  /** Where the record ends in that file. */
  readonly end: number;
}

/** A batch file's name, parsed. */
export interface BatchName {
  readonly key: string;
  readonly first: number;
  readonly count: number;
}

/** The file-name field of `priority` (lower sorts first, so higher priorities are delivered first). */
export function priorityField(priority: number): string {
  return String(255 - priority).padStart(PRIORITY_FIELD, '0');
}

/** The priority a key (or a name starting with one) files a message under. */
export function priorityOfKey(key: string): number {
  return 255 - Number(key.slice(0, PRIORITY_FIELD));
}

/** `key` filed under another priority. */
export function withPriority(key: string, priority: number): string {
  return priorityField(priority) + key.slice(PRIORITY_FIELD);
}

export function batchKey(priority: number, at: number, pid: number, counter: number): string {
  return `${priorityField(priority)}-${String(at).padStart(14, '0')}-${String(pid).padStart(7, '0')}-${String(counter).padStart(10, '0')}`;
}

/** The directory a key's files go in. */
export function bucketOf(key: string): string {
  return key.slice(0, BUCKET_CHARS);
}

export function batchName(key: string, first: number, count: number): string {
  return `${key}.${String(first).padStart(INDEX_DIGITS, '0')}.${String(count).padStart(INDEX_DIGITS, '0')}`;
}

const NAME = /^(\d{3}-\d{14}-\d+-\d+)\.(\d+)\.(\d+)$/;

/** The parts of a batch file's name; undefined for anything else (a temporary file, a stranger's file). */
export function parseBatchName(name: string): BatchName | undefined {
  const match = NAME.exec(name);
  if (!match) return undefined;
  return { key: match[1] as string, first: Number(match[2]), count: Number(match[3]) };
}

/** One record's bytes. */
export function encodeRecord(header: RecordHeader | Buffer, body: Buffer): Buffer[] {
  const head = Buffer.isBuffer(header) ? header : Buffer.from(JSON.stringify(header));
  const prefix = Buffer.allocUnsafe(PREFIX);
  prefix.writeUInt32BE(head.length, 0);
  prefix.writeUInt32BE(body.length, 4);
  return [prefix, head, body];
}

/** A batch file's bytes from its records' bytes (from {@link encodeRecord}). */
export function encodeBatch(records: readonly Buffer[][]): Buffer {
  return Buffer.concat([MAGIC, ...records.flat()]);
}

/** The header a record keeps for `message`. */
export function recordHeader(message: StoredMessage): RecordHeader {
  const header = {
    id: message.id,
    properties: message.properties,
    exchange: message.exchange,
    routingKey: message.routingKey,
    expiresAt: message.expiresAt ?? null,
  };
  return message.redelivered ? { ...header, redelivered: true } : header;
}

/** A record's header marked redelivered, as bytes. */
export function redeliveredHeader(record: BatchRecord): Buffer {
  return record.header.redelivered
    ? record.rawHeader
    : Buffer.from(JSON.stringify({ ...record.header, redelivered: true }));
}

/** A file that is not a well-formed batch file. */
export class MalformedBatchError extends Error {
  override readonly name = 'MalformedBatchError';
}

/**
 * Reads the records of an open batch file of `size` bytes. A body over `maxBodyBytes` is not read
 * (the record says how large it is); without a bound, or when the whole file is within it, the file
 * is read in one call.
 */
export async function readBatch(
  handle: FileHandle,
  size: number,
  maxBodyBytes = Number.POSITIVE_INFINITY,
): Promise<BatchRecord[]> {
  if (size <= maxBodyBytes) return parseBatch(await readAt(handle, 0, size));
  // Some body may be over the bound: record by record, reading each header and only the bodies within it.
  const records: BatchRecord[] = [];
  checkMagic(await readAt(handle, 0, MAGIC.length));
  for (let at = MAGIC.length; at < size; ) {
    const prefix = await readAt(handle, at, PREFIX);
    if (prefix.length < PREFIX) throw new MalformedBatchError('truncated record');
    const headerBytes = prefix.readUInt32BE(0);
    const bodyBytes = prefix.readUInt32BE(4);
    const bodyAt = at + PREFIX + headerBytes;
    const end = bodyAt + bodyBytes;
    if (end > size) throw new MalformedBatchError('truncated record');
    const rawHeader = await readAt(handle, at + PREFIX, headerBytes);
    const withheld = bodyBytes > maxBodyBytes;
    const body = withheld ? Buffer.alloc(0) : await readAt(handle, bodyAt, bodyBytes);
    records.push({ header: parseHeader(rawHeader), rawHeader, body, bodyBytes, withheld, bodyAt, end });
    at = end;
  }
  return records;
}

/** The records of a batch file's bytes. */
export function parseBatch(data: Buffer): BatchRecord[] {
  checkMagic(data);
  const records: BatchRecord[] = [];
  for (let at = MAGIC.length; at < data.length; ) {
    if (at + PREFIX > data.length) throw new MalformedBatchError('truncated record');
    const headerBytes = data.readUInt32BE(at);
    const bodyBytes = data.readUInt32BE(at + 4);
    const bodyAt = at + PREFIX + headerBytes;
    const end = bodyAt + bodyBytes;
    if (end > data.length) throw new MalformedBatchError('truncated record');
    const rawHeader = data.subarray(at + PREFIX, bodyAt);
    const body = data.subarray(bodyAt, end);
    records.push({ header: parseHeader(rawHeader), rawHeader, body, bodyBytes, withheld: false, bodyAt, end });
    at = end;
  }
  return records;
}

/** Where the records from `index` on start in a file (its length when `index` is past the end). */
export function offsetOf(records: readonly BatchRecord[], index: number): number {
  return index === 0 ? MAGIC.length : (records[index - 1] as BatchRecord).end;
}

function checkMagic(data: Buffer): void {
  if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC))
    throw new MalformedBatchError('not a Wakame batch file (format 2)');
}

function parseHeader(raw: Buffer): RecordHeader {
  const header = JSON.parse(raw.toString('utf8')) as RecordHeader;
  if (typeof header?.id !== 'string') throw new MalformedBatchError('record header without an id');
  return header;
}

/** `length` bytes from `position` (fewer only at the end of the file). */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}
