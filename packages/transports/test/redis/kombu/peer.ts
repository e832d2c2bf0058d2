/**
 * The Python side of the kombu interop suites (`../kombu-*.int.test.ts`): runs `kombu_redis_peer.py` with the
 * system interpreter (`/usr/bin/python3`, which has Debian's python3-kombu and python3-redis; the runner is shared,
 * `../../kombu-common/peer.ts`), and the shapes of what it prints.
 *
 * kombu's Redis layout, which Wakame shares: a binding is the member `<binding key>\x06\x16<pattern>\x06\x16<queue>`
 * of the set `_kombu.binding.<exchange>` (`pattern` is kombu's regex for topic exchanges, empty otherwise); a queue is
 * the list `<queue>` plus, per priority step, `<queue>\x06\x16<step>`; a message is kombu's JSON envelope (body in
 * base64, `content-type`, `content-encoding`, `headers`, `properties` with `delivery_info`, `priority`,
 * `delivery_tag`). With `global_keyprefix` every key starts with the prefix.
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { JsonObject } from '../../kombu-common/mapping.js';
import type { KombuDrainOf, KombuMessage, PeerInfo, SentVariant } from '../../kombu-common/peer.js';
import { peerRunner } from '../../kombu-common/peer.js';

export const runPeer = peerRunner(fileURLToPath(new URL('./kombu_redis_peer.py', import.meta.url)));
/** kombu's separator in priority list keys and binding members. */
export const SEP = '\x06\x16';

/** `kombu_redis_peer.py probe`. */
export interface RedisPeerInfo extends PeerInfo {
  readonly redis: string;
  readonly redis_server?: string;
}

/** kombu's JSON envelope, as stored in a queue list. */
export interface Envelope {
  readonly body: string;
  readonly 'content-encoding': string | null;
  readonly 'content-type': string | null;
  readonly headers: JsonObject;
  readonly properties: JsonObject & {
    readonly delivery_info?: { readonly exchange?: string; readonly routing_key?: string };
    readonly priority?: number;
    /** Wakame's own additions, which kombu passes through. */
    readonly wakame?: JsonObject;
  };
}

/** One entry of `kombu_redis_peer.py publish`. */
export interface Sent extends SentVariant {
  /** Where kombu LPUSHed the message, and the exact string. */
  readonly pushed: readonly { readonly queue: string; readonly key: string; readonly raw: string }[];
  readonly envelope: Envelope | null;
}

/** What kombu made of one message (`kombu_redis_peer.py consume`), with the envelope as it was stored. */
export interface KombuReceived extends KombuMessage {
  readonly delivery_info: { readonly exchange: string | null; readonly routing_key: string | null };
  readonly envelope: Envelope | null;
}

export type KombuDrain = KombuDrainOf<KombuReceived>;

/** Bytes from Redis: base64, and the UTF-8 text when valid. */
export interface RawValue {
  readonly b64: string;
  readonly text: string | null;
}

/** One key of `kombu_redis_peer.py dump`. */
export interface DumpEntry {
  readonly key: RawValue;
  readonly type: string;
  readonly members?: readonly RawValue[];
  readonly items?: readonly RawValue[];
  readonly fields?: readonly { readonly field: RawValue; readonly value: RawValue }[];
  readonly value?: RawValue;
}

/**
 * The peer's arguments for one queue bound to `exchange` (`--max-priority 0`: a queue without `x-max-priority`),
 * followed by `extra`.
 */
export function queueArgs(
  url: string,
  exchange: string,
  queue: string,
  options: { routingKey?: string; maxPriority?: number; extra?: readonly string[] } = {},
): string[] {
  return [
    '--url',
    url,
    '--exchange',
    exchange,
    '--queue',
    queue,
    '--routing-key',
    options.routingKey ?? queue,
    '--max-priority',
    String(options.maxPriority ?? 9),
    ...(options.extra ?? []),
  ];
}

/** Every key of a database, by its UTF-8 text (binary keys by `b64:<base64>`). */
export async function dumpKeys(url: string, match = '*'): Promise<Map<string, DumpEntry>> {
  const entries = await runPeer<DumpEntry[]>(['dump', '--url', url, '--match', match], 30_000);
  return new Map(entries.map((e) => [e.key.text ?? `b64:${e.key.b64}`, e]));
}

export function bytesOf(value: RawValue): Buffer {
  return Buffer.from(value.b64, 'base64');
}

/** The members of the set `key` as hex, sorted (the peer sorts them). */
export function memberHexes(keys: ReadonlyMap<string, DumpEntry>, key: string): string[] {
  return (keys.get(key)?.members ?? []).map((m) => bytesOf(m).toString('hex'));
}

/** The list items of `key`, head (the LPUSH end) first, as text. */
export function listItems(keys: ReadonlyMap<string, DumpEntry>, key: string): string[] {
  const entry = keys.get(key);
  if (entry === undefined) return [];
  expect(entry.type, `TYPE ${JSON.stringify(key)}`).toBe('list');
  return (entry.items ?? []).map((item) => bytesOf(item).toString('utf8'));
}

/** The step list kombu uses for a kombu priority: `<queue>` for step 0, `<queue>\x06\x16<step>` otherwise. */
export function kombuListKey(queue: string, kombuPriority: number, prefix = ''): string {
  const step = [0, 3, 6, 9].filter((s) => s <= kombuPriority).at(-1) ?? 0;
  return step === 0 ? `${prefix}${queue}` : `${prefix}${queue}${SEP}${step}`;
}

/** The `x-seq` header: a message's publish index. */
export function seqOf(headers: Readonly<Record<string, unknown>> | JsonObject): unknown {
  return headers['x-seq'];
}
