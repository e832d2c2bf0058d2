/** `value` when it is an Error, else an Error whose message is `value` as a string (for what a `catch` or an abort reason holds). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
