/**
 * RabbitMQ-exact topic matching, without regular expressions.
 *
 * A binding key is a list of words separated by `.`. A word that is exactly `*` matches exactly one word of the
 * routing key, a word that is exactly `#` matches zero or more words, and every other word (`a*`, `#a`, the empty
 * word) matches itself literally. Routing keys are always literal: a `*` or `#` in a routing key is an ordinary
 * character.
 *
 * Empty words count (`a..b` has the three words `a`, `''`, `b`), with one exception taken from RabbitMQ: the empty
 * string is zero words, not one empty word. RabbitMQ's splitter returns `[]` for `''`, and its own topic-exchange
 * tests expect routing key `''` to reach the bindings `#`, `#.#`, `#.#.#` and `''` only — not `*`, `*.#` or
 * `#.*.#`. So here `''` matches `''` and any all-`#` binding, and nothing that needs a word.
 *
 * Matching simulates the binding key as a small automaton (one state per word, `#` loops on itself), which takes
 * O(binding words × routing-key words) time whatever the input: no backtracking, so no exponential blow-up on keys
 * like `#.#.#.x` against long routing keys, and nothing that an untrusted routing key can turn into a ReDoS.
 *
 * @module
 */

/** A compiled binding key, reusable for any number of routing keys. */
export interface TopicPattern {
  /** The binding key this pattern was compiled from. */
  readonly key: string;
  /** Whether a message published with `routingKey` matches the binding key. */
  matches(routingKey: string): boolean;
}

const LITERAL = 0;
const STAR = 1;
const HASH = 2;

/** `'a.b'` → `['a', 'b']`; `''` → `[]` (RabbitMQ: the empty key has no words). */
function splitWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

/** Number of words of a non-empty routing key, counted without allocating. */
function countWords(routingKey: string): number {
  let count = 1;
  for (let i = routingKey.indexOf('.'); i !== -1; i = routingKey.indexOf('.', i + 1)) count++;
  return count;
}

/** A binding key without wildcards: word-by-word equality is plain string equality. */
class ExactPattern implements TopicPattern {
  constructor(readonly key: string) {}
  matches(routingKey: string): boolean {
    return routingKey === this.key;
  }
}

/** A binding key made only of `#` words: matches everything, including `''`. */
class AnyPattern implements TopicPattern {
  constructor(readonly key: string) {}
  matches(): boolean {
    return true;
  }
}

/** `lit1.lit2.#`: the routing key is the literal prefix, or starts with it and a dot. */
class PrefixPattern implements TopicPattern {
  readonly #prefix: string;
  readonly #prefixDot: string;
  constructor(
    readonly key: string,
    prefix: string,
  ) {
    this.#prefix = prefix;
    this.#prefixDot = `${prefix}.`;
  }
  matches(routingKey: string): boolean {
    // '' has no words, and the prefix needs at least one.
    if (routingKey === '') return false;
    return routingKey === this.#prefix || routingKey.startsWith(this.#prefixDot);
  }
}

/** `#.lit1.lit2`: the routing key is the literal suffix, or ends with a dot and it. */
class SuffixPattern implements TopicPattern {
  readonly #suffix: string;
  readonly #dotSuffix: string;
  constructor(
    readonly key: string,
    suffix: string,
  ) {
    this.#suffix = suffix;
    this.#dotSuffix = `.${suffix}`;
  }
  matches(routingKey: string): boolean {
    if (routingKey === '') return false;
    return routingKey === this.#suffix || routingKey.endsWith(this.#dotSuffix);
  }
}

/** `*` but no `#` (`orders.*.created`): a fixed number of words, compared one by one. */
class FixedPattern implements TopicPattern {
  constructor(
    readonly key: string,
    private readonly kinds: readonly number[],
    private readonly literals: readonly string[],
  ) {}
  matches(routingKey: string): boolean {
    if (routingKey === '') return false;
    const size = this.kinds.length;
    let start = 0;
    for (let i = 0; i < size; i++) {
      const dot = routingKey.indexOf('.', start);
      const last = i === size - 1;
      // The routing key must run out of dots exactly at the last binding word.
      if (last ? dot !== -1 : dot === -1) return false;
      const end = last ? routingKey.length : dot;
      if (this.kinds[i] === LITERAL) {
        const literal = this.literals[i] ?? '';
        if (literal.length !== end - start || !routingKey.startsWith(literal, start)) return false;
      }
      start = end + 1;
    }
    return true;
  }
}

/**
 * The automaton below with its states packed in one 32-bit integer: bit `i` is state `i`. Used for binding keys
 * of up to 30 words (31 states), i.e. all real ones; a step is a few bit operations plus one string comparison per
 * live literal state, and nothing is allocated.
 */
class BitAutomatonPattern implements TopicPattern {
  readonly #literals: readonly string[];
  readonly #hashMask: number;
  readonly #starMask: number;
  readonly #literalMask: number;
  readonly #acceptBit: number;
  readonly #minWords: number;

  constructor(
    readonly key: string,
    kinds: readonly number[],
    literals: readonly string[],
  ) {
    this.#literals = literals;
    let hashMask = 0;
    let starMask = 0;
    let literalMask = 0;
    kinds.forEach((kind, i) => {
      if (kind === HASH) hashMask |= 1 << i;
      else if (kind === STAR) starMask |= 1 << i;
      else literalMask |= 1 << i;
    });
    this.#hashMask = hashMask;
    this.#starMask = starMask;
    this.#literalMask = literalMask;
    this.#acceptBit = 1 << kinds.length;
    this.#minWords = kinds.filter((kind) => kind !== HASH).length;
  }

  matches(routingKey: string): boolean {
    if (routingKey === '') return false;
    if (countWords(routingKey) < this.#minWords) return false;
    const hashMask = this.#hashMask;
    // Runs of `#` were merged at compile time, so one shift adds every zero-word move.
    let states = 1 | ((1 & hashMask) << 1);
    let start = 0;
    for (;;) {
      const dot = routingKey.indexOf('.', start);
      const end = dot === -1 ? routingKey.length : dot;
      let next = (states & hashMask) | ((states & this.#starMask) << 1);
      for (let live = states & this.#literalMask; live !== 0; live &= live - 1) {
        const bit = live & -live;
        const literal = this.#literals[31 - Math.clz32(bit)] ?? '';
        if (literal.length === end - start && routingKey.startsWith(literal, start)) next |= bit << 1;
      }
      if (next === 0) return false;
      states = next | ((next & hashMask) << 1);
      if (dot === -1) break;
      start = dot + 1;
    }
    return (states & this.#acceptBit) !== 0;
  }
}

/**
 * The general case: a non-deterministic automaton simulated with one flag per binding word. Only binding keys of
 * more than 30 words (after merging `#` runs) get here; shorter ones use {@link BitAutomatonPattern}.
 *
 * State `i` means "the first `i` binding words have consumed the routing-key words read so far". A literal or `*`
 * at `i` moves to `i + 1` on a matching word; a `#` at `i` stays at `i` (it eats the word) and is also at `i + 1`
 * without reading anything (it matched zero words), which the forward closure pass adds.
 */
class AutomatonPattern implements TopicPattern {
  readonly #kinds: Uint8Array;
  readonly #literals: readonly string[];
  /** Words a routing key needs at least (the non-`#` words). */
  readonly #minWords: number;
  readonly #hasHash: boolean;
  // Two state buffers reused by every call: matching is synchronous, so calls never interleave.
  #current: Uint8Array;
  #next: Uint8Array;

  constructor(
    readonly key: string,
    kinds: readonly number[],
    literals: readonly string[],
  ) {
    this.#kinds = Uint8Array.from(kinds);
    this.#literals = literals;
    this.#minWords = kinds.filter((kind) => kind !== HASH).length;
    this.#hasHash = kinds.includes(HASH);
    this.#current = new Uint8Array(kinds.length + 1);
    this.#next = new Uint8Array(kinds.length + 1);
  }

  matches(routingKey: string): boolean {
    // Automaton patterns always hold at least one non-`#` word, which '' (zero words) cannot supply.
    if (routingKey === '') return false;
    const kinds = this.#kinds;
    const literals = this.#literals;
    const size = kinds.length;
    const words = countWords(routingKey);
    if (words < this.#minWords || (!this.#hasHash && words !== size)) return false;

    let current = this.#current;
    let next = this.#next;
    current.fill(0);
    current[0] = 1;
    this.#closure(current);

    let start = 0;
    for (;;) {
      const dot = routingKey.indexOf('.', start);
      const end = dot === -1 ? routingKey.length : dot;
      const length = end - start;
      next.fill(0);
      let alive = false;
      for (let i = 0; i < size; i++) {
        if (current[i] === 0) continue;
        const kind = kinds[i];
        if (kind === HASH) {
          next[i] = 1;
          alive = true;
        } else if (kind === STAR) {
          next[i + 1] = 1;
          alive = true;
        } else {
          const literal = literals[i] ?? '';
          if (literal.length === length && routingKey.startsWith(literal, start)) {
            next[i + 1] = 1;
            alive = true;
          }
        }
      }
      if (!alive) return false;
      this.#closure(next);
      const swap = current;
      current = next;
      next = swap;
      if (dot === -1) break;
      start = dot + 1;
    }
    return current[size] === 1;
  }

  /** Adds the zero-word moves of `#`; one forward pass suffices because they only ever move forward. */
  #closure(states: Uint8Array): void {
    const kinds = this.#kinds;
    for (let i = 0; i < kinds.length; i++) {
      if (states[i] === 1 && kinds[i] === HASH) states[i + 1] = 1;
    }
  }
}

/**
 * Compiles a binding key once so that matching many routing keys against it is cheap.
 *
 * Consecutive `#` words are merged (`#.#` matches exactly what `#` matches), and the common shapes get
 * allocation-free fast paths: no wildcard (string equality), only `#` (always true), `literal….#` (prefix test),
 * `#.…literal` (suffix test) and no `#` (word-by-word comparison). Everything else runs the automaton, with its
 * states packed into an integer for binding keys of up to 30 words.
 *
 * @example
 * const pattern = compileTopic('*.stock.#');
 * pattern.matches('usd.stock'); // true
 * pattern.matches('stock.nasdaq'); // false
 */
export function compileTopic(bindingKey: string): TopicPattern {
  const kinds: number[] = [];
  const literals: string[] = [];
  for (const word of splitWords(bindingKey)) {
    if (word === '#') {
      if (kinds[kinds.length - 1] === HASH) continue;
      kinds.push(HASH);
      literals.push('');
    } else {
      kinds.push(word === '*' ? STAR : LITERAL);
      literals.push(word);
    }
  }

  const hashes = kinds.filter((kind) => kind === HASH).length;
  const hasStar = kinds.includes(STAR);
  if (hashes === 0 && !hasStar) return new ExactPattern(bindingKey);
  if (kinds.length === 1 && hashes === 1) return new AnyPattern(bindingKey);
  if (hashes === 1 && !hasStar) {
    if (kinds[kinds.length - 1] === HASH) return new PrefixPattern(bindingKey, literals.slice(0, -1).join('.'));
    if (kinds[0] === HASH) return new SuffixPattern(bindingKey, literals.slice(1).join('.'));
  }
  if (hashes === 0) return new FixedPattern(bindingKey, kinds, literals);
  if (kinds.length <= 30) return new BitAutomatonPattern(bindingKey, kinds, literals);
  return new AutomatonPattern(bindingKey, kinds, literals);
}

/**
 * Whether `routingKey` matches the topic binding key `bindingKey`. Compiles on every call: routing code that
 * matches one binding repeatedly should hold on to {@link compileTopic}'s result instead.
 */
export function topicMatches(bindingKey: string, routingKey: string): boolean {
  return compileTopic(bindingKey).matches(routingKey);
}
