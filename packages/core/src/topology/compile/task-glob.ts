/**
 * Task-name globs of `routes[].match`: `*` matches any run of characters except `.` (so it stays
 * inside one dotted segment), `**` matches any run of characters including dots, and every other
 * character matches itself. Matching is anchored at both ends: `media.*` matches `media.resize`
 * but neither `media.image.resize` nor `x.media.resize`.
 *
 * The matcher never builds a regular expression from user text: it simulates the pattern as a set
 * of positions (one per pattern token), which is O(pattern × name) whatever the input, so a glob
 * such as `**a**a**a**b` cannot backtrack exponentially.
 *
 * @module
 */

/** A token of a compiled glob: a literal character, `*` (no dots) or `**` (anything). */
type Token =
  | { readonly kind: 'char'; readonly char: string }
  | { readonly kind: 'star' }
  | { readonly kind: 'globstar' };

/** `'a.**'` → `[a, ., **]`; runs of three or more stars count as `**`. */
function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  let stars = 0;
  const flush = (): void => {
    if (stars > 0) tokens.push(stars === 1 ? { kind: 'star' } : { kind: 'globstar' });
    stars = 0;
  };
  // Iterates code points, as the matcher does, so astral characters are one token each.
  for (const char of pattern) {
    if (char === '*') stars++;
    else {
      flush();
      tokens.push({ kind: 'char', char });
    }
  }
  flush();
  return tokens;
}

/** Whether a pattern matches every name (`**`, `***`, …). */
export function isMatchAll(pattern: string): boolean {
  return pattern.length >= 2 && /^\*+$/.test(pattern);
}

/**
 * Compiles a task-name glob into a predicate.
 *
 * @example
 * const match = compileGlob('media.*');
 * match('media.resize'); // true
 * match('media.image.resize'); // false
 * compileGlob('media.**')('media.image.resize'); // true
 */
export function compileGlob(pattern: string): (name: string) => boolean {
  const tokens = tokenize(pattern);
  if (tokens.every((t) => t.kind === 'char')) return (name) => name === pattern;
  if (isMatchAll(pattern)) return () => true;
  const size = tokens.length;

  /** Adds the zero-length moves of `*` and `**` (they may match nothing). */
  const closure = (states: Uint8Array): void => {
    for (let i = 0; i < size; i++) {
      if (states[i] === 1 && (tokens[i] as Token).kind !== 'char') states[i + 1] = 1;
    }
  };

  return (name) => {
    let current = new Uint8Array(size + 1);
    current[0] = 1;
    closure(current);
    for (const char of name) {
      const next = new Uint8Array(size + 1);
      let alive = false;
      for (let i = 0; i < size; i++) {
        if (current[i] === 0) continue;
        const token = tokens[i] as Token;
        if (token.kind === 'globstar' || (token.kind === 'star' && char !== '.')) {
          next[i] = 1;
          alive = true;
        } else if (token.kind === 'char' && token.char === char) {
          next[i + 1] = 1;
          alive = true;
        }
      }
      if (!alive) return false;
      closure(next);
      current = next;
    }
    return current[size] === 1;
  };
}
