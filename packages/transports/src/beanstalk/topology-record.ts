/**
 * The topology record's document: exchanges, queues, bindings and policies with a serial that moves on
 * every change, as JSON, and the pointer a record job holds instead when the document is in parts.
 *
 * @module
 */
import type { BindingSpec, ExchangeSpec, PolicySpec, QueueSpec } from '@wakame/core/spi';
import { bindingKey, policyKeyOf } from '@wakame/core/spi';
import type { Job } from './client.js';

interface RecordDocument {
  readonly serial: number;
  readonly exchanges: ExchangeSpec[];
  readonly queues: QueueSpec[];
  readonly bindings: BindingSpec[];
  readonly policies: PolicySpec[];
}

/** The record as maps, while a writer changes it. */
export interface Records {
  serial: number;
  readonly exchanges: Map<string, ExchangeSpec>;
  readonly queues: Map<string, QueueSpec>;
  readonly bindings: Map<string, BindingSpec>;
  readonly policies: Map<string, PolicySpec>;
}

export function empty(): Records {
  return { serial: 0, exchanges: new Map(), queues: new Map(), bindings: new Map(), policies: new Map() };
}

/** A record too large for one job: its document is in part jobs (the topology keeps it in part jobs). */
export interface PartsPointer {
  readonly serial: number;
  readonly parts: readonly number[];
}

/** The part job ids a record job points to (none when it holds the document itself). */
export function partsOf(job: Job): readonly number[] {
  return (JSON.parse(job.body.toString('utf8')) as Partial<PartsPointer>).parts ?? [];
}

/** A part the record names is gone: a writer replaced the record meanwhile; read again. */
export class RecordMoved extends Error {}

export function parse(body: Buffer): Records {
  const doc = JSON.parse(body.toString('utf8')) as RecordDocument;
  return {
    serial: doc.serial,
    exchanges: new Map(doc.exchanges.map((e) => [e.name, e])),
    queues: new Map(doc.queues.map((q) => [q.name, q])),
    bindings: new Map(doc.bindings.map((b) => [bindingKey(b), b])),
    policies: new Map(doc.policies.map((p) => [policyKeyOf(p), p])),
  };
}

export function serialise(records: Records): Buffer {
  const doc: RecordDocument = {
    serial: records.serial,
    exchanges: [...records.exchanges.values()],
    queues: [...records.queues.values()],
    bindings: [...records.bindings.values()],
    policies: [...records.policies.values()],
  };
  return Buffer.from(JSON.stringify(doc));
}

/** A detached plain copy, so a caller mutating its object later cannot change the records. */
export function plain<T extends object>(spec: T): T {
  return JSON.parse(JSON.stringify(spec)) as T;
}

/** Two records made at once by two processes: the union, later entries winning. */
export function merge(a: Records, b: Records): Records {
  for (const [k, v] of b.exchanges) a.exchanges.set(k, v);
  for (const [k, v] of b.queues) a.queues.set(k, v);
  for (const [k, v] of b.bindings) a.bindings.set(k, v);
  for (const [k, v] of b.policies) a.policies.set(k, v);
  a.serial = Math.max(a.serial, b.serial);
  return a;
}
