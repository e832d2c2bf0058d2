/**
 * Wakame → kombu through a real Redis: Wakame publishes kombu's catalogue of variants (`kombu/kombu_redis_peer.py`;
 * kombu's publish arguments translated, kombu's `zlib`/`gzip` as Wakame's `compression: 'zlib'`), each in a queue of
 * its own, and kombu must decode them as it decodes its own messages (a kombu → kombu reference run), from envelopes
 * with kombu's bytes. Wakame's own `gzip` (real gzip, `application/gzip`) is a compression kombu 5.2 does not have:
 * pinned as a known loss.
 *
 * Priorities (the rule is in `kombu/mapping.ts`): the queues have `maxPriority` 9, so a Wakame priority p is written
 * as kombu priority `9 - min(p, 9)`, and a message without a priority is priority 0 (RabbitMQ's rule): kombu priority
 * 9, in `<queue>\x06\x169`, with `"wakame": {"priority": null}` so that Wakame reads it back as none. There, and only
 * there, Wakame's envelope differs from kombu's (kombu writes its default 0 into the bare list); either way the list a
 * message sits in is the one its envelope's kombu priority names.
 *
 * Redis database 12 (flushed before and after). Gated on Redis and the kombu peer (`kombu/suite.ts`).
 */
import { redisUrl } from '@wakame/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import * as expectations from '../kombu-common/expectations.js';
import { kombuReadsWakameTests, kombuReferenceRun, sameBytesAsKombuTests } from '../kombu-common/interop-tests.js';
import { variantOf } from '../kombu-common/mapping.js';
import { HOOK_TIMEOUT_MS, kombuOf } from '../kombu-common/peer.js';
import { wakamePublishAll } from '../kombu-common/wakame.js';
import {
  ABSENT,
  envelopeShape,
  expectedKombuPriority,
  expectedWakamePriorityEntry,
  wakamePriorityEntry,
  wakamePublish,
  withEnvelopePriority,
} from './kombu/mapping.js';
import {
  dumpKeys,
  type Envelope,
  type KombuDrain,
  type KombuReceived,
  kombuListKey,
  listItems,
  runPeer,
  SEP,
  type Sent,
} from './kombu/peer.js';
import { flushAround, kombuSuite, variantRoutes } from './kombu/suite.js';

const URL = redisUrl(12);
const suite = await kombuSuite('Wakame → kombu over Redis', 12);
const { catalogue, peer, variantNames, wakameVariants } = suite;

/** The Wakame priority Wakame publishes `variant` with (kombu's k as 9 - k; none when kombu gives none). */
function wakamePriority(variant: string): number | undefined {
  return wakamePublish(variantOf(catalogue, variant))?.options.priority;
}

describe.skipIf(!suite.run)('Wakame → kombu over Redis', () => {
  const routes = variantRoutes(URL);
  const { base, exchange } = routes;
  /** kombu's view of its own messages: the reference Wakame's messages are held to. */
  let reference: Record<string, KombuDrain> = {};
  /** kombu's own envelopes (the reference run's publish manifest). */
  let kombuSent = new Map<string, Sent>();
  /** kombu's view of Wakame's messages. */
  let received: Record<string, KombuDrain> = {};
  /** Wakame's envelopes as stored, per variant: [key, raw]. */
  const stored = new Map<string, { key: string; raw: string }[]>();
  /** Variants published by Wakame only: its real gzip. */
  const extra = ['wakame_gzip'];
  const published = [...wakameVariants, ...extra];

  flushAround(URL);

  beforeAll(async () => {
    ({ kombuSent, reference } = await kombuReferenceRun<Sent, KombuReceived>(runPeer, routes, variantNames));

    const messages = routes.wakamePublishes('w2k', wakameVariants, catalogue, wakamePublish);
    messages.push({
      body: { n: 20, text: 'real gzip ✓' },
      options: { compression: 'gzip', routingKey: routes.name('w2k', 'wakame_gzip') },
    });
    const queues = published.map((variant) => routes.queue('w2k', variant));
    await wakamePublishAll(URL, exchange, [exchange, ...queues], messages);

    const keys = await dumpKeys(URL, `${base}.w2k.*`);
    for (const variant of published) {
      const queue = routes.name('w2k', variant);
      const lists = [...keys.keys()].filter((k) => k === queue || k.startsWith(`${queue}${SEP}`));
      stored.set(
        variant,
        lists.flatMap((key) => listItems(keys, key).map((raw) => ({ key, raw }))),
      );
    }
    received = await runPeer(routes.consumeArgs('w2k', published));
  }, HOOK_TIMEOUT_MS);

  it.each(wakameVariants)('%s: kombu decodes Wakame’s message as it decodes its own', (variant) => {
    const entry = variantOf(catalogue, variant);
    const theirs = kombuOf(reference, variant, 'kombu');
    const ours = kombuOf(received, variant, 'Wakame');
    expectations.expectDecodedAsOwn(ours, theirs, entry);
    expect(ours.headers).toEqual(theirs.headers);
    // kombu's own priority where the variant has one; Wakame's unset priority is 0 on this maxPriority queue: 9.
    const priority = expectedKombuPriority(wakamePriority(variant), true);
    expect(ours.properties).toEqual({ ...theirs.properties, priority });
    if (entry.publish_kwargs.priority === undefined) expect([theirs.properties.priority, priority]).toEqual([0, 9]);
    else expect(priority).toBe(entry.publish_kwargs.priority);
    expect(ours.delivery_info).toEqual({ exchange: exchange.name, routing_key: routes.name('w2k', variant) });
  });

  it('Wakame stores each message in the list of its envelope’s kombu priority, as kombu’s _q_for_pri does', () => {
    // kombu's invariant: a message with kombu priority k sits in the list of k's step (kombu and Wakame restore by
    // the envelope's priority, kombu consumers read it). The priority is the rule's (see the header). One line per
    // variant that breaks either.
    const mismatches: string[] = [];
    for (const variant of wakameVariants) {
      const queue = routes.name('w2k', variant);
      const want = expectedKombuPriority(wakamePriority(variant), true);
      const copies = stored.get(variant) ?? [];
      for (const { key, raw } of copies) {
        const ours = (JSON.parse(raw) as Envelope).properties.priority;
        if (ours === undefined || key !== kombuListKey(queue, ours) || ours !== want) {
          mismatches.push(
            `${variant}: in ${JSON.stringify(key.slice(base.length))} with "priority": ${ours} ` +
              `(want priority ${want} in ${JSON.stringify(kombuListKey(queue, want).slice(base.length))})`,
          );
        }
      }
      if (copies.length !== 1) mismatches.push(`${variant}: ${copies.length} copies`);
    }
    expect(mismatches).toEqual([]);
    // The unset ones are not all in kombu's default list: the rule is tested, not kombu's layout.
    expect(stored.get('str_body')?.map((s) => s.key)).toEqual([`${routes.name('w2k', 'str_body')}${SEP}9`]);
  });

  it('Wakame’s `wakame.priority` entry says what the kombu priority cannot: none (null), or Wakame 9', () => {
    const entries = Object.fromEntries(
      wakameVariants.map((variant) => {
        const raw = stored.get(variant)?.[0]?.raw;
        if (raw === undefined) throw new Error(`no envelope for ${variant}`);
        return [variant, wakamePriorityEntry((JSON.parse(raw) as Envelope).properties)];
      }),
    );
    const want = Object.fromEntries(
      wakameVariants.map((v) => [v, expectedWakamePriorityEntry(wakamePriority(v), true)]),
    );
    expect(entries).toEqual(want);
    expect([entries.str_body, entries.priority_0, entries.priority_9]).toEqual([null, 9, ABSENT]);
  });

  sameBytesAsKombuTests({
    title:
      '%s: Wakame’s envelope has kombu’s bytes (delivery tag, JSON body spacing, `wakame` and the rule’s priority aside)',
    catalogue,
    wakameVariants,
    base: () => base,
    stored: (variant) => ({ theirs: kombuSent.get(variant)?.pushed[0]?.raw, ours: stored.get(variant)?.[0]?.raw }),
    envelopeShape,
    want: (theirs, variant) => withEnvelopePriority(theirs, expectedKombuPriority(wakamePriority(variant), true)),
  });

  kombuReadsWakameTests(() => received, { catalogue, peer });

  it('known loss: Wakame’s `gzip` (real gzip, application/gzip) is a compression kombu 5.2 does not have', () => {
    const ours = kombuOf(received, 'wakame_gzip', 'Wakame');
    expect(ours.headers.compression).toBe('application/gzip');
    expect([...Buffer.from(ours.envelope?.body ?? '', 'base64').subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(ours.decode_error).toMatch(/application\/gzip/);
  });
});
