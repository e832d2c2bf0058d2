/**
 * Counts by label values for the worker's Prometheus counters. A message is counted on the hot path, where
 * prom-client's own `inc()` would build, validate and hash a labels object for every call (a worker with metrics on
 * ran at half the speed of one without); here a count is one walk down nested maps and an addition, with nothing
 * allocated once the label values were seen. The counter reads the counts when it is scraped.
 *
 * @module
 */

interface Leaf {
  value: number;
}

type Level = Map<string, Level | Leaf>;

/** Counts keyed by up to three label values, in the order of `labelNames`. */
export class LabelCounts {
  readonly labelNames: readonly string[];
  readonly #root: Level = new Map();

  constructor(labelNames: readonly string[]) {
    if (labelNames.length < 1 || labelNames.length > 3) throw new RangeError('LabelCounts takes one to three labels');
    this.labelNames = labelNames;
  }

  /** Adds `by` (1 unless told) to the count of these label values. */
  add(a: string, b?: string, c?: string, by = 1): void {
    const depth = this.labelNames.length;
    // Each level but the last maps a label value to the next level; the last maps it to its count.
    let level = this.#root;
    let last = a;
    if (depth >= 2) {
      level = this.#child(level, a);
      last = b as string;
    }
    if (depth === 3) {
      level = this.#child(level, b as string);
      last = c as string;
    }
    const leaf = level.get(last) as Leaf | undefined;
    if (leaf) leaf.value += by;
    else level.set(last, { value: by });
  }

  /** Every count with its labels, for the scrape. */
  *entries(): Generator<[Record<string, string>, number]> {
    yield* this.#walk(this.#root, 0, []);
  }

  *#walk(level: Level, depth: number, values: string[]): Generator<[Record<string, string>, number]> {
    for (const [value, next] of level) {
      const path = [...values, value];
      if (depth === this.labelNames.length - 1) {
        const labels: Record<string, string> = {};
        this.labelNames.forEach((name, i) => {
          labels[name] = path[i] as string;
        });
        yield [labels, (next as Leaf).value];
      } else yield* this.#walk(next as Level, depth + 1, path);
    }
  }

  #child(level: Level, value: string): Level {
    let next = level.get(value) as Level | undefined;
    if (!next) {
      next = new Map();
      level.set(value, next);
    }
    return next;
  }
}

/** A prom-client `collect()` that sets a counter to `counts`: the counter itself is never incremented elsewhere. */
export function collectFrom(counts: LabelCounts) {
  return function collect(this: {
    reset(): void;
    inc(labels: Record<string, string>, value: number): void;
  }): void {
    this.reset();
    for (const [labels, value] of counts.entries()) this.inc(labels, value);
  };
}
