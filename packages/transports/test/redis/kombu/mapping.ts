/**
 * The priority rules across the kombu ⇄ Wakame boundary over Redis, and what they make of kombu's publish arguments,
 * message properties and envelopes. The rest of the mapping (values, property names, publish arguments) is shared
 * with the AMQP kombu suite: `../../kombu-common/mapping.ts`.
 *
 * Priorities. kombu's Redis transport consumes *lower* numbers first: a message of kombu priority k goes to the list
 * of step s = the largest of [0, 3, 6, 9] ≤ k (the bare `<queue>` for s = 0), and consumers pop the lists in step
 * order. Wakame's priorities are AMQP's (higher is sooner, on a queue with `maxPriority`), so the transport maps:
 *
 * - Wakame → kombu, on a queue declared with `maxPriority`: priority p is written as kombu priority `9 - min(p, 9)`,
 *   to the list of that value's step. A message *without* a priority is priority 0 (RabbitMQ's rule: no priority is
 *   the lowest), so it is written with kombu priority 9 into `<queue>\x06\x169`, plus `"wakame": {"priority": null}`
 *   in its properties so that Wakame reads it back as "no priority". Wakame 9 → `<queue>`, 5 → `<queue>\x06\x163`,
 *   1 → `<queue>\x06\x166`, 0 and none → `<queue>\x06\x169`: kombu consumes the 9s first, then the 5s, the 1s, and
 *   the 0s and unset ones last, so a Wakame message without a priority comes *after* kombu's own default-priority
 *   (0) messages.
 * - Wakame → kombu, on a queue without `maxPriority`: every message goes to the bare `<queue>` list with
 *   `"priority": 0`, with a `wakame.priority` entry only where kombu's 0 (read as "none") would not give back the
 *   exact Wakame priority.
 * - In both cases the list a message sits in is the one its envelope's kombu priority names (kombu's `_q_for_pri`),
 *   so kombu's restore puts it back where it was.
 * - kombu → Wakame: kombu priority 0 (its default) reads as no priority, k > 0 as `9 - k`; kombu's 0 is consumed
 *   first, then 3, 6, 9 (Wakame sees undefined, 6, 3, 0).
 */
import type { PublishOptions } from '@wakame/core';
import { camelProperties, type Json, wakamePublish as publishWith, type Variant } from '../../kombu-common/mapping.js';

/** The Wakame priority of a kombu priority: kombu's 0 (its default) is none, k > 0 is 9 - k. */
export function wakamePriorityOf(kombu: Json | undefined): number | undefined {
  return typeof kombu === 'number' && kombu > 0 ? 9 - Math.min(kombu, 9) : undefined;
}

/**
 * The kombu priority Wakame must write for a Wakame priority (`undefined`: none): on a queue with `maxPriority`
 * `9 - min(p, 9)`, none counting as 0 (so 9); on a queue without, 0.
 */
export function expectedKombuPriority(wakame: number | undefined, priorityQueue: boolean): number {
  return priorityQueue ? 9 - Math.min(wakame ?? 0, 9) : 0;
}

/** Stands for a `wakame.priority` entry that is not there (`null` is an entry: "no priority"). */
export const ABSENT = '<absent>';

/**
 * The `wakame.priority` entry Wakame must write: {@link ABSENT} where the envelope's kombu priority reads back as the
 * Wakame priority, else the Wakame priority (`null` for none).
 */
export function expectedWakamePriorityEntry(
  wakame: number | undefined,
  priorityQueue: boolean,
): number | null | typeof ABSENT {
  const readBack = wakamePriorityOf(expectedKombuPriority(wakame, priorityQueue));
  return readBack === wakame ? ABSENT : (wakame ?? null);
}

/** The `wakame.priority` entry of a stored envelope's properties, or {@link ABSENT}. */
export function wakamePriorityEntry(properties: { readonly wakame?: Readonly<Record<string, Json>> }): Json {
  const extras = properties.wakame;
  return extras !== undefined && Object.hasOwn(extras, 'priority') ? (extras.priority ?? null) : ABSENT;
}

/** What Wakame must show for a kombu envelope's properties, keyed by Wakame's names (absent ones left out). */
export function expectedWakameProperties(props: Readonly<Record<string, Json>>): Record<string, Json> {
  return camelProperties(props, wakamePriorityOf);
}

/**
 * kombu's publish arguments as Wakame publish options (see the shared `wakamePublish`), kombu priority k as Wakame
 * priority 9 - k (see the header).
 */
export function wakamePublish(variant: Variant): { body: unknown; options: PublishOptions } | undefined {
  return publishWith(variant, (kombu) => 9 - Math.min(kombu, 9));
}

/**
 * An envelope string with what legitimately differs between two publishers blanked: the delivery tag (a fresh id),
 * the body when `blankBody` (JSON serializers differ in spacing and escapes), and Wakame's own `wakame` property
 * (what kombu's envelope cannot say, passed through by kombu; tested on its own).
 */
export function envelopeShape(raw: string, blankBody: boolean): string {
  let shape = raw.replace(/"delivery_tag": "[^"]*"/, '"delivery_tag": "<tag>"').replace(/"wakame": \{[^{}]*\}, /, '');
  if (blankBody) shape = shape.replace(/^\{"body": "[^"]*"/, '{"body": "<body>"');
  return shape;
}

/** An envelope string with its kombu priority replaced by `kombuPriority`. */
export function withEnvelopePriority(raw: string, kombuPriority: number): string {
  const out = raw.replace(/"priority": \d+, "body_encoding"/, `"priority": ${kombuPriority}, "body_encoding"`);
  if (out === raw && !raw.includes(`"priority": ${kombuPriority}, "body_encoding"`)) {
    throw new Error(`no kombu priority in envelope ${raw.slice(0, 200)}`);
  }
  return out;
}
