/**
 * Environment interpolation in topology files: `${VAR}`, `${VAR:-default}` and the escape `$${`.
 *
 * Deliberately small (no `$VAR`, no nesting, no `${VAR:?msg}`): a topology is configuration that
 * operators read, and every form it accepts is one more they must know. Anything that looks like an
 * expression but is not one of these is reported rather than passed through, so a typo such as
 * `${QUEUE PREFIX}` cannot silently become a queue name.
 *
 * @module
 */

/** Something wrong with one `${…}` expression. */
export interface InterpolationProblem {
  /** `missing`: the variable is unset and there is no default; `syntax`: not a valid expression. */
  readonly kind: 'missing' | 'syntax';
  /** The variable name, for `missing`. */
  readonly variable?: string;
  /** The expression as written (e.g. `${QUEUE_PREFIX}`), to find it in the source text. */
  readonly expression: string;
  /** Offset of the expression in the interpolated string. */
  readonly index: number;
  readonly message: string;
}

/** The result of {@link interpolate}. */
export interface InterpolationResult {
  readonly value: string;
  /** Whether any expression or escape was replaced (the string differs from its source). */
  readonly changed: boolean;
  readonly problems: readonly InterpolationProblem[];
}

const EXPRESSION = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}` with the variable's value and `${VAR:-default}` with the value, or with `default`
 * when the variable is unset or empty (as in POSIX shells, so `FOO= wakame …` falls back too).
 * `$${` yields a literal `${`. A missing variable without a default is a problem and its expression is
 * left in place, so the result still shows what was meant.
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): InterpolationResult {
  // Most strings contain no `$` at all: skip the scan.
  if (!text.includes('${')) return { value: text, changed: false, problems: [] };
  const problems: InterpolationProblem[] = [];
  let out = '';
  let changed = false;
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) break;
    out += text.slice(i, dollar);
    if (text.startsWith('$${', dollar)) {
      out += '${';
      i = dollar + 3;
      changed = true;
      continue;
    }
    if (!text.startsWith('${', dollar)) {
      out += '$';
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close < 0) {
      const expression = text.slice(dollar);
      problems.push({
        kind: 'syntax',
        expression,
        index: dollar,
        message: `unterminated '\${' in '${text}' (write '$\${' for a literal '\${')`,
      });
      out += expression;
      i = text.length;
      break;
    }
    const expression = text.slice(dollar, close + 1);
    const body = text.slice(dollar + 2, close);
    const match = EXPRESSION.exec(body);
    const name = match?.[1];
    const fallback = match?.[2];
    if (name === undefined || fallback?.includes('${')) {
      problems.push({
        kind: 'syntax',
        expression,
        index: dollar,
        message: fallback?.includes('${')
          ? `nested interpolation is not supported: '${expression}'`
          : `invalid interpolation '${expression}': expected \${NAME} or \${NAME:-default}, NAME being letters, digits and _ (write '$\${' for a literal '\${')`,
      });
      out += expression;
    } else {
      const value = env[name];
      if (value !== undefined && (value !== '' || fallback === undefined)) {
        out += value;
        changed = true;
      } else if (fallback !== undefined) {
        out += fallback;
        changed = true;
      } else {
        problems.push({
          kind: 'missing',
          variable: name,
          expression,
          index: dollar,
          message: `environment variable '${name}' is not set (set it, or give a default: \${${name}:-value})`,
        });
        out += expression;
      }
    }
    i = close + 1;
  }
  out += text.slice(i);
  return { value: out, changed, problems };
}

const INTEGER = /^[-+]?[0-9]+$|^0o[0-7]+$|^0x[0-9a-fA-F]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const BOOLEAN: Readonly<Record<string, boolean>> = {
  true: true,
  True: true,
  TRUE: true,
  false: false,
  False: false,
  FALSE: false,
};

/**
 * Reads an interpolated plain (unquoted) scalar the way YAML's core schema would have read the same
 * text: `messageTtl: ${TTL:-60000}` is the number 60000, as if the value had been written in place.
 * Only numbers and booleans are retyped; anything else (including `null` and the empty string) stays a
 * string. Quoted scalars are never retyped, which is how a numeric-looking string is kept.
 */
export function retypePlainScalar(text: string): string | number | boolean {
  const bool = BOOLEAN[text];
  if (bool !== undefined) return bool;
  // Number() reads the 0x/0o prefixes and reads leading-zero decimals as decimal, as the core schema does.
  if (INTEGER.test(text) || FLOAT.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n)) return n;
  }
  return text;
}
