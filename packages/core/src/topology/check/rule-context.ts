/**
 * What the semantic rules of `./rules.ts` share: the context {@link checkRules} hands each rule, and
 * the helpers that name a place in the document (a JSON pointer, and where a field's value comes
 * from when it may be inherited from `defaults`).
 *
 * @module
 */
import type { BindingSpec, Capabilities, ExchangeType } from '../../transport/spi.js';
import type { DesiredTopology } from '../desired.js';
import type { BindingDocument, QueueBindingDocument, TopologyDocument } from '../document.js';

/** A JSON pointer from path segments (RFC 6901 escaping of `~` and `/`). */
export function pointer(...segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    const text = String(s);
    // Made for every binding of every queue: escape only the segments that need it.
    out += text.includes('~') || text.includes('/') ? `/${text.replace(/~/g, '~0').replace(/\//g, '~1')}` : `/${text}`;
  }
  return out;
}

/** A binding as written (inside a queue or top-level), with its document path and compiled form. */
export interface BindingSite {
  readonly path: string;
  readonly doc: QueueBindingDocument | BindingDocument;
  readonly spec: BindingSpec;
  readonly topLevel: boolean;
}

/** Everything the rules share; {@link checkRules} makes it once per check. */
export interface RuleContext {
  readonly doc: TopologyDocument;
  readonly compiled: DesiredTopology;
  readonly exchangeTypes: ReadonlyMap<string, ExchangeType>;
  readonly queueNames: ReadonlySet<string>;
  readonly bindings: readonly BindingSite[];
  /** Compiled tasks by name: rules look each document task up (a scan per task was quadratic). */
  readonly tasks: ReadonlyMap<string, DesiredTopology['tasks'][number]>;
  readonly transport: string;
  readonly capabilities: Capabilities | undefined;
  error(keyword: string, path: string, message: string): void;
  warn(keyword: string, path: string, message: string): void;
}

/** Where a field's value comes from: the entity itself, else its `defaults` section, else nowhere. */
export function origin(own: object, ownPath: string, defaults: object | undefined, field: string): string | undefined {
  if ((own as Record<string, unknown>)[field] !== undefined) return `${ownPath}/${field}`;
  if (defaults !== undefined && (defaults as Record<string, unknown>)[field] !== undefined) {
    // Entity paths are `/<section>/<index>`; `defaults` sections are named in the singular.
    const section = ownPath.split('/')[1]?.replace(/s$/, '') ?? '';
    return pointer('defaults', section, field);
  }
  return undefined;
}

/** `[path, entity]` pairs: the `defaults` section of the kind first (when set), then every entity. */
export function withDefaults<T, D>(
  section: 'exchanges' | 'queues' | 'tasks',
  items: readonly T[] | undefined,
  defaults: D | undefined,
): [string, T | D][] {
  const own = (items ?? []).map((item, i): [string, T | D] => [pointer(section, i), item]);
  return defaults === undefined ? own : [[pointer('defaults', section.slice(0, -1)), defaults], ...own];
}
