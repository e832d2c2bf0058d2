/**
 * Running async work over a list with a bound on how much is in flight.
 *
 * @module
 */

/**
 * Runs `run` over `items` in order, at most `limit` at a time (at least one). After the first
 * failure nothing new starts; the runs already in flight finish, then the returned promise rejects
 * with that first failure's error. So, once it settles, every run that was started has settled too.
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++] as T;
      try {
        await run(item);
      } catch (error) {
        if (!failed) {
          failed = true;
          failure = error;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failure;
}
