/**
 * Merging a topology file with the files it includes, keeping track of which file each merged value
 * came from so issues found later still point into the right file.
 *
 * @module
 */
import type { TopologyIssue } from '../../errors.js';
import type { TopologyDocument } from '../document.js';
import type { TopologyPart } from './load-yaml.js';
import { joinPointer, type LocateOptions, parsePointer, type SourceLocation } from './locate.js';

/** Sections holding lists: an including file adds its entries after those of the files it includes. */
const LIST_SECTIONS: ReadonlySet<string> = new Set<keyof TopologyDocument>([
  'exchanges',
  'queues',
  'bindings',
  'broadcasts',
  'tasks',
  'routes',
  'expect',
  'schedules',
]);

interface Slice {
  readonly part: TopologyPart;
  readonly start: number;
  readonly length: number;
}

/**
 * Merges `parts` (the included files in include order, the including file last): list sections are
 * concatenated; everything else (priorityClasses, defaults, version) is merged key by key, later parts
 * winning, so the including file overrides what it includes. `include` is kept from the last part only:
 * the others' includes have already been resolved into `parts`.
 */
export function mergeParts(parts: readonly TopologyPart[], issues: TopologyIssue[]): TopologyPart {
  const own = parts.at(-1);
  if (own === undefined || parts.length === 1) return own ?? { value: {}, locate: () => undefined };
  const value: Record<string, unknown> = {};
  const slices = new Map<string, Slice[]>();
  const keys = new Set(parts.flatMap((p) => Object.keys(p.value)));
  for (const key of keys) {
    if (key === 'include') {
      if ('include' in own.value) value[key] = own.value[key];
      continue;
    }
    const holders = parts.filter((p) => Object.hasOwn(p.value, key));
    if (LIST_SECTIONS.has(key) && holders.length > 1) {
      const list: unknown[] = [];
      const sliceList: Slice[] = [];
      for (const part of holders) {
        const section = part.value[key];
        if (!Array.isArray(section)) {
          issues.push({
            path: `/${key}`,
            message: `expected a list (it is merged with the '${key}' of the other files), got ${section === null ? 'an empty value' : `a ${typeof section}`}`,
            keyword: 'type',
            severity: 'error',
            ...part.locate(`/${key}`),
          });
          continue;
        }
        sliceList.push({ part, start: list.length, length: section.length });
        list.push(...(section as unknown[]));
      }
      value[key] = list;
      slices.set(key, sliceList);
    } else {
      value[key] = holders.reduce<unknown>((acc, p) => deepMerge(acc, p.value[key]), undefined);
    }
  }
  return {
    value,
    locate(pointer: string, options?: LocateOptions): SourceLocation | undefined {
      const segments = parsePointer(pointer);
      const [section, index, ...rest] = segments;
      const sliceList = section === undefined ? undefined : slices.get(section);
      if (sliceList && index !== undefined) {
        const i = Number(index);
        const slice = sliceList.find((s) => i >= s.start && i < s.start + s.length);
        if (slice) return slice.part.locate(joinPointer(`/${section}`, i - slice.start, ...rest), options);
      }
      // Otherwise the value comes from the last part that has it (later parts win); a pointer that
      // exists nowhere is located in the last part having its closest existing ancestor.
      for (let depth = segments.length; depth >= 0; depth--) {
        const prefix = segments.slice(0, depth);
        for (let p = parts.length - 1; p >= 0; p--) {
          const part = parts[p];
          if (part && has(part.value, prefix)) return part.locate(pointer, options);
        }
      }
      return own.locate(pointer, options);
    },
  };
}

/** Whether `segments` lead to a value in `value`. */
function has(value: unknown, segments: readonly string[]): boolean {
  let current = value;
  for (const s of segments) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(s) || Number(s) >= current.length) return false;
      current = current[Number(s)];
    } else if (isPlainObject(current) && Object.hasOwn(current, s)) {
      current = current[s];
    } else {
      return false;
    }
  }
  return true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Mappings are merged key by key with `over` winning; anything else in `over` replaces `base`. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = Object.hasOwn(base, k) ? deepMerge(base[k], v) : v;
  return out;
}
